"""Shared by the example-class tests: where the class is, its generator, and file trees as bytes; zips of
large equal members made cheaply."""

from __future__ import annotations

import importlib.util
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLASS = EXAMPLES / "class"
ROSTER = EXAMPLES / "roster.csv"
MAKE_CLASS = EXAMPLES / "make_class.py"


def load_make_class() -> ModuleType:
    """``examples/make_class.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_class", MAKE_CLASS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by its relative POSIX path, with its bytes."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file()}


def submission_file(student_id: str) -> Path:
    """The shipped file of one student of the example class."""
    (path,) = [path for path in CLASS.rglob(f"ex_02_{student_id}.*") if path.is_file()]
    return path


def deflated_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    """A zip of ``members``, each distinct content deflated once: equal members (a zip bomb's parts, huge
    files) cost one compression instead of one each (3 s for 140 parts of 8 MiB), which ``zipfile`` cannot
    do (it compresses whatever it writes)."""
    compressed: dict[bytes, tuple[bytes, int]] = {}
    local, central = bytearray(), bytearray()
    for name, data in members:
        if data not in compressed:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as in a zip
            compressed[data] = (packer.compress(data) + packer.flush(), zlib.crc32(data))
        body, crc = compressed[data]
        raw, offset = name.encode(), len(local)
        fields = (8, 0, 0x21, crc, len(body), len(data), len(raw), 0)  # deflate, 1980-01-01 00:00
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *fields) + raw + body
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0o100644 << 16,
                               offset) + raw
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(bytes(local + central) + end)
