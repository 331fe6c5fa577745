"""Results remembered by what determines them, so that a stopped run resumes where it stopped.

A student's result depends on their file's bytes and name (the module is named after the id), and on
everything that is the same for the whole run: the grader's own code and the assignment file, the seed,
the data file's bytes, the time limit, the language and the isolation in use. The key hashes all of
these, so a changed check, a new data file or ``--seed`` simply misses the cache: nothing is ever
reused across a change that could alter a grade.

Entries live in ``DIR/.cache/results/`` (they travel with the results they produced), one JSON file
each, written atomically in the same order as the reports; a damaged entry is treated as absent. What
is stored is the result as the reports render it: every sentence already in the run's language, held
as a verbatim message, so that a result read back renders byte for byte as it did when it was graded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from grader.i18n import Catalogue, Message
from grader.intake.discover import Submission
from grader.outputs.atomic import write_atomic
from grader.results import CheckResult, Status, SubmissionResult, Verdict
from grader.run.engine import Plan

CACHE_DIR = Path(".cache")
RESULTS_DIR = CACHE_DIR / "results"
#: Bumped when the entry format changes, so old entries are ignored rather than misread.
FORMAT = 1
VERBATIM = "resume.verbatim"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # grader/
_CODE_ROOTS = (_PACKAGE_ROOT, _PACKAGE_ROOT.parent / "reference")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def grader_fingerprint() -> str:
    """A hash of the grader's own code and messages: any edit to a check invalidates old results."""
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("ex-grader").encode())
    except metadata.PackageNotFoundError:
        pass
    for root in _CODE_ROOTS:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts and path.is_file():
                digest.update(path.relative_to(root.parent).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_key(plan: Plan, *, lang: str, isolation: str, timeout: float | None) -> str:
    """Everything that is the same for every student of a run and can change a result."""
    parts = {
        "format": FORMAT,
        "grader": grader_fingerprint(),
        "assignment": _sha256_file(plan.assignment.path),
        "seed": plan.seed,
        "data": _sha256_file(plan.data_file) if plan.data_file is not None else None,
        "limits": plan.limits,
        "timeout": timeout,
        "lang": lang,
        "isolation": isolation,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class ResultCache:
    """Results of one run's settings in ``out/.cache/results``."""

    out: Path
    run_key: str
    catalogue: Catalogue
    lang: str

    @property
    def folder(self) -> Path:
        return self.out / RESULTS_DIR

    def key(self, submission: Submission) -> str | None:
        """The entry name for a submission, or None when its file cannot be read (it is graded, not cached)."""
        try:
            content = _sha256_file(submission.path)
        except OSError:
            return None
        material = json.dumps([self.run_key, submission.student_id, submission.kind, content])
        return hashlib.sha256(material.encode()).hexdigest()

    def load(self, key: str, submission: Submission) -> SubmissionResult | None:
        try:
            entry = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            return self._decode(entry, submission)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, result: SubmissionResult, submission: Submission) -> None:
        write_atomic(self.folder / f"{key}.json",
                     json.dumps(self._encode(result, submission), ensure_ascii=False, indent=1) + "\n")

    def prune(self, keep: Iterable[str]) -> None:
        """Drop entries this run did not use: results of older settings or of files since replaced."""
        wanted = {f"{key}.json" for key in keep}
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.suffix == ".json" and path.name not in wanted:
                path.unlink(missing_ok=True)

    # -- the entry format -----------------------------------------------------------------------

    def _text(self, message: Message) -> str:
        return self.catalogue.render(message, self.lang)

    def _encode(self, result: SubmissionResult, submission: Submission) -> dict[str, Any]:
        own = result.warnings[len(submission.warnings):]  # the submission's own are re-added on load
        return {
            "format": FORMAT,
            "student_id": result.student_id,
            "status": result.status,
            "max": result.max,
            "warnings": [self._text(message) for message in own],
            "output": result.output,
            "output_bytes": result.output_bytes,
            "checks": [{"id": check.id, "passed": check.passed, "score": check.score, "max": check.max,
                        "summary": self._text(check.verdict.summary),
                        "details": [self._text(detail) for detail in check.verdict.details],
                        "hint": None if check.verdict.hint is None else self._text(check.verdict.hint)}
                       for check in result.checks],
        }

    @staticmethod
    def _decode(entry: dict[str, Any], submission: Submission) -> SubmissionResult | None:
        if entry.get("format") != FORMAT or entry["student_id"] != submission.student_id:
            return None
        checks = [CheckResult(str(item["id"]), bool(item["passed"]), float(item["score"]), float(item["max"]),
                              Verdict(bool(item["passed"]), verbatim(item["summary"]),
                                      [verbatim(detail) for detail in item["details"]],
                                      None if item["hint"] is None else verbatim(item["hint"])))
                  for item in entry["checks"]]
        warnings = [*submission.warnings, *(verbatim(text) for text in entry["warnings"])]
        return SubmissionResult(submission.student_id, Status(entry["status"]), submission.source, checks,
                                float(entry["max"]), warnings, str(entry["output"]), int(entry["output_bytes"]))


def verbatim(text: str) -> Message:
    """A sentence already rendered in the run's language; the catalogue's ``resume.verbatim`` is ``{text}``."""
    return Message(VERBATIM, {"text": str(text)})
