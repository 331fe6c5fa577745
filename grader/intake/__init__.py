"""Intake: from a class folder or Moodle download to decoded submissions with owners."""
