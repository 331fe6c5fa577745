"""The trust boundary.

``protocol.py``, ``child.py`` and ``zygote.py`` are the only modules that run beside student code
(inside the sandbox); they import nothing from the rest of the grader. ``launcher.py`` is the
grader-side half: it starts sandboxed warm workers and exchanges JSON lines with them.
"""
