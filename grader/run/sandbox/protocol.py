"""Plain-data encoding shared by the grader and the sandboxed child (no pickle, ever).

Why: everything the child sends back is produced by code we do not trust. JSON of numbers, strings and
base64 array buffers with a whitelisted dtype can be decoded without running any of that code, and a
value that is not plain data arrives as a description (``{"__object__": "Perceptron"}``), never as an
object. Python's json writes floats with ``repr``, so float64 values survive the trip bit for bit.

This module must import only the standard library and numpy: it is bound into the sandbox.
"""

from __future__ import annotations

import base64
import math
from enum import StrEnum
from typing import Any

import numpy as np

# dtypes an array may arrive with; anything else is described, not decoded.
ALLOWED_DTYPES = ("<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1")
MAX_ARRAY_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 6
MAX_DIMENSIONS = 64
MAX_ITEMS = 100_000
MAX_FRAMES = 8  # the student's own traceback frames an error report keeps (child sends, engine re-checks)
#: the zygote's answer to a job that names, by ``cases_key``, cases it does not hold (the launcher resends them)
CASES_UNKNOWN = "cases_unknown"



class Limit(StrEnum):
    """The closed set of error kinds the sandbox side may report: which of its limits stopped something.

    The child marks an exception a limit caused with ``"limit": <kind>`` (and the worker an answer it cut
    short); the grader chooses the sentence for each kind (``grader/run/engine.py``) and drops anything
    else sent there. The child never names a message.
    """

    MEMORY = "memory"  # MemoryError: the address-space limit
    PROCESSES = "processes"  # fork/thread creation refused (EAGAIN)
    FILE_SIZE = "file_size"  # EFBIG
    TMP_SPACE = "tmp_space"  # ENOSPC in the private tmpfs
    OPEN_FILES = "open_files"  # EMFILE
    HIDDEN_MODULE = "hidden_module"  # an import of the grader's own packages
    OUTSIDE_FILE = "outside_file"  # a path outside what the sandbox shows
    TMP_FILES = "tmp_files"  # the worker: too many files in /tmp or /dev/shm
    RESULTS = "results"  # the worker: too much sent back
    WORKER_KILLED = "worker_killed"  # the grader: the worker itself was lost


# --- frames: what the grader sends a worker --------------------------------------------------------------
# Each message is a fixed-size header line then exactly ``length`` bytes of JSON. The header lets the worker
# read a job's bytes into one buffer it can zero after handing them to the job's own process, without ever
# parsing them itself (so no student's source or inputs stay in the worker's heap for a later child), and it
# carries the job's nonce: the worker's answer repeats it, and the grader takes an answer only for the job
# whose nonce it made (a line that anything else wrote cannot pass for another student's answer).
FRAME_HEADER_BYTES = 64
FRAME_KINDS = ("cases", "job")
MAX_FRAME_BYTES = 1 << 30


def frame_header(kind: str, tag: str, length: int) -> bytes:
    """The header of a frame: its kind, a tag (a job's nonce, or the cases' key) and the body's length."""
    if kind not in FRAME_KINDS or not tag.isalnum() or len(tag) > 32 or not 0 <= length <= MAX_FRAME_BYTES:
        raise ValueError("bad frame header")
    return f"{kind} {tag} {length}".ljust(FRAME_HEADER_BYTES - 1).encode("ascii") + b"\n"


def parse_frame_header(header: bytes) -> tuple[str, str, int]:
    """Inverse of :func:`frame_header`; ValueError for anything else."""
    parts = header.decode("ascii").split()
    if len(header) != FRAME_HEADER_BYTES or header.find(b"\n") != FRAME_HEADER_BYTES - 1 or len(parts) != 3 \
            or parts[0] not in FRAME_KINDS or not parts[1].isalnum():
        raise ValueError("bad frame header")
    length = int(parts[2])
    if not 0 <= length <= MAX_FRAME_BYTES:
        raise ValueError("bad frame length")
    return parts[0], parts[1], length


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn a value into JSON-able plain data, describing what cannot be represented."""
    if _depth > MAX_DEPTH:
        return {"__object__": "too deeply nested"}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        array = np.asarray(value)
        encoded = _encode_array(array)
        if "__nd__" in encoded:
            encoded["__nd__"]["scalar"] = True
        return encoded
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            return {"__object__": f"{type(value).__name__} of {len(value)} items"}
        items = [encode(item, _depth + 1) for item in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    return {"__object__": type(value).__name__}


def _encode_array(array: np.ndarray) -> dict[str, Any]:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype.str not in ALLOWED_DTYPES:
        return {"__object__": f"ndarray[{array.dtype}]", "shape": list(array.shape)}
    if array.nbytes > MAX_ARRAY_BYTES:
        return {"__object__": f"ndarray too large ({array.nbytes} bytes)", "shape": list(array.shape)}
    data = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return {"__nd__": {"dtype": dtype.str, "shape": list(array.shape), "b64": base64.b64encode(data).decode()}}


def decode(value: Any, refs: dict[str, Any] | None = None) -> Any:
    """Inverse of :func:`encode`; ``refs`` resolves ``{"__ref__": name}`` and ``{"__rng__": seed}`` is
    turned into a fresh ``np.random.default_rng(seed)`` (the child uses this for the grader's inputs)."""
    if isinstance(value, list):
        return [decode(item, refs) for item in value]
    if not isinstance(value, dict):
        return value
    if "__nd__" in value:
        return _decode_array(value["__nd__"])
    if "__tuple__" in value:
        return tuple(decode(item, refs) for item in value["__tuple__"])
    if "__ref__" in value:
        if refs is None or value["__ref__"] not in refs:
            raise KeyError(f"unknown reference {value['__ref__']!r}")
        return refs[value["__ref__"]]
    if "__rng__" in value:
        return np.random.default_rng(value["__rng__"])
    if "__object__" in value:
        return Opaque(str(value["__object__"]), value.get("shape"))
    if "__error__" in value:
        return Failed(value["__error__"])
    return {str(key): decode(item, refs) for key, item in value.items()}


def _decode_array(spec: dict[str, Any]) -> np.ndarray | np.generic:
    dtype = str(spec.get("dtype"))
    if dtype not in ALLOWED_DTYPES:
        raise ValueError(f"dtype {dtype!r} is not allowed")
    dims = spec.get("shape", ())
    if not isinstance(dims, list | tuple) or len(dims) > MAX_DIMENSIONS:  # numpy's own limit; bounds the work below
        raise ValueError("too many dimensions")
    shape = tuple(int(n) for n in dims)
    if any(n < 0 or n > MAX_ARRAY_BYTES for n in shape):
        raise ValueError("bad dimension")
    raw = base64.b64decode(spec.get("b64", ""), validate=True)
    expected = math.prod(shape) * np.dtype(dtype).itemsize  # exact integers: no overflow, cheaper than np.prod
    if len(raw) != expected or len(raw) > MAX_ARRAY_BYTES:
        raise ValueError("array buffer does not match its shape")
    array = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
    return array[()] if spec.get("scalar") else array


class Opaque:
    """Stands for a value the child could only describe (an object, an ``ndarray[object]``...)."""

    def __init__(self, description: str, shape: list[int] | None = None) -> None:
        self.description = description
        # shown in reports: a plain shape or nothing (the child is not trusted to send one)
        plain = isinstance(shape, list | tuple) and len(shape) <= MAX_DIMENSIONS and all(
            isinstance(n, int) and 0 <= n <= MAX_ARRAY_BYTES for n in shape)
        self.shape = tuple(shape) if plain else None  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<{self.description}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and (self.description, self.shape) == (other.description, other.shape)

    def __hash__(self) -> int:
        return hash((self.description, self.shape))


class Failed:
    """An optional op that raised: the output is absent, and this says why."""

    def __init__(self, error: Any) -> None:
        self.error = error if isinstance(error, dict) else {"type": "Error", "message": str(error)}

    def __repr__(self) -> str:
        return f"<failed: {self.error.get('type')}>"


# --- cases: what the grader asks the child to do -------------------------------------------------
# A case is {"id": str, "ops": [op, ...]}. Ops (all fields JSON):
#   {"op": "let",  "save": name, "value": v}                    store an input under a name
#   {"op": "call", "fn": path, "args": [v...], "kwargs": {k: v}, "save": name?, "out": name?}
#   {"op": "get",  "path": path, "out": name}                    read an attribute or item
#   any op with "optional": true records {"__error__": ...} as its output instead of ending the case
#   {"op": "set",  "path": path, "value": v}                     assign an attribute
# A path is a module-level name or "$var", followed by ".attr" or "[int]" parts: "$p.w", "$r[0].b".
# Values are encoded with encode(); {"__ref__": name} and {"__rng__": seed} are allowed in inputs.
# The child answers one JSON line per case: {"case": id, "outputs": {name: v}, "error": err|None,
# "seconds": float}; err = {"op": i, "fn": path, "type": str, "message": str, "traceback": [...],
# "limit": Limit?}.
