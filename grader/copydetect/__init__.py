"""Copy detection: token windows shared between submissions, in the background."""
