"""Files written whole or not at all: a temporary file beside the target, then a rename.

Every file ``grade`` writes goes through :func:`write_atomic`, so that a run stopped by Ctrl-C or a kill
leaves the old file or the new one, never half of one; :func:`remove_stale_temporaries` deletes the
temporary files such a stop can leave, when the next run starts.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from grader.intake.untrusted import bounded_file_stem

#: What ``write_atomic`` leaves behind when a run is killed between writing and renaming.
_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Read once at import: ``os.umask`` can only be read by setting it, which is not thread-safe later.
_FILE_MODE = 0o666 & ~_umask()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers see the old file or the new one.

    The file gets the usual permissions (0o666 less the umask), not ``mkstemp``'s private 0o600, so
    reports can be shared like any other file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{bounded_file_stem(path.name)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(out: Path) -> None:
    """Delete what ``write_atomic`` left when a run was killed mid-write, so outputs stay clean."""
    out = Path(out)
    if not out.is_dir():
        return
    for path in out.rglob(".*.tmp"):
        if path.is_file() and _TEMPORARY.fullmatch(path.name):
            path.unlink(missing_ok=True)
