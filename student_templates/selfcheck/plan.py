"""What the self-check asks of a file: ``plan.json``, written by ``student-kit`` from the grader's checks.

It holds inputs only (arrays the grader draws from its seed, the calls to make, the limits); what the
answers should be is decided by ``judge.py`` from properties of the answers themselves.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from selfcheck._vendor import protocol

PLAN_FILE = Path(__file__).with_name("plan.json")


@functools.cache
def _plan() -> dict[str, Any]:
    return json.loads(PLAN_FILE.read_text(encoding="utf-8"))


def seed() -> int:
    return int(_plan()["seed"])


def unavailable_libraries() -> list[str]:
    return list(_plan().get("unavailable_libraries", []))


def limits() -> dict[str, Any]:
    return dict(_plan()["limits"])


def check_ids(suite: str) -> list[str]:
    return list(_plan()["suites"][suite]["checks"])


def cases(suite: str) -> list[dict[str, Any]]:
    return _plan()["suites"][suite]["cases"]


@functools.cache
def inputs(check_id: str) -> dict[str, Any]:
    """The decoded inputs of one check (case id -> named arrays and numbers)."""
    return protocol.decode(_plan()["inputs"][check_id])


def params(check_id: str) -> dict[str, Any]:
    return dict(_plan()["params"].get(check_id, {}))
