"""自己チェック (self-check) of the student kit: ``uv run pytest`` in the kit runs it.

How it works, so that a student (or a TA) can trust it:

- ``session.py`` runs the student's files in a separate Python process (``runner.py``, started by
  ``process.py``; one process takes the files in turn and puts back what each changed) from the file's
  own folder, so ``../data/advertising.csv`` means what it means when the student runs the file, and a
  hang or a crash costs only the checks it touches. Time limits are deadlines on reading that process's
  answers: nothing here needs ``SIGALRM``, ``fork``, ``resource`` or ``fcntl`` (Windows, macOS, Linux).
- ``judge.py`` decides every check from the plain data that came back, by properties, numerical
  differentiation and least squares: no solution of any exercise is written anywhere in the kit.
- ``plan.json`` (the grader's own cases: inputs only), ``messages.json`` (the grader's sentences) and
  ``_vendor/`` (the grader's child-side runner, plain-data protocol and comparison helpers) are copied
  in by ``student-kit`` when the kit is built; the test names are the grader's check ids.
"""
