"""The shipped example class (examples/class/, examples/roster.csv) is exactly what
examples/make_class.py writes now, so the two never drift; and it has the shape a Moodle download has."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

import nbformat
import pytest
from submissions import CLASS, ROSTER, load_make_class, submission_file, tree

make_class = load_make_class()
FOLDER = re.compile(r"[^_/]+ [^_/]+_\d{7}_assignsubmission_file_")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("generated")
    assert make_class.main([str(dest / "class")]) == 0  # the command line, roster next to DEST
    return dest


def test_shipped_class_equals_a_fresh_generation(generated: Path) -> None:
    fresh, shipped = tree(generated / "class"), tree(CLASS)
    assert sorted(fresh) == sorted(shipped), "regenerate: uv run python examples/make_class.py"
    changed = [name for name in fresh if fresh[name] != shipped[name]]
    assert not changed, f"regenerate: uv run python examples/make_class.py (differs: {changed})"


def test_shipped_roster_equals_a_fresh_generation(generated: Path) -> None:
    assert (generated / "roster.csv").read_bytes() == ROSTER.read_bytes()


def test_generation_is_deterministic(tmp_path: Path) -> None:
    make_class.build(tmp_path / "again", tmp_path / "elsewhere" / "roster.csv")
    assert tree(tmp_path / "again") == tree(CLASS)
    assert (tmp_path / "elsewhere" / "roster.csv").read_bytes() == ROSTER.read_bytes()


def test_generation_replaces_a_stale_class(tmp_path: Path) -> None:
    stale = tmp_path / "class" / "old_1_assignsubmission_file_" / "ex_02_S9999.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("x = 1\n")
    make_class.build(tmp_path / "class")
    assert tree(tmp_path / "class") == tree(CLASS)


def test_layout_is_a_moodle_download() -> None:
    files = sorted(path for path in CLASS.rglob("*") if path.is_file())
    assert len(files) == len(make_class.VARIANTS)
    for path in files:
        folder = path.parent.relative_to(CLASS).as_posix()
        assert FOLDER.fullmatch(folder), folder
        assert re.fullmatch(r"ex_02_S1\d{3}\.(py|ipynb)", path.name), path.name


def test_roster_lists_everyone_including_the_student_who_sent_nothing() -> None:
    raw = ROSTER.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    ids = [row["student_id"] for row in rows]
    submitted = [variant.student_id for variant in make_class.VARIANTS]
    missing = [student_id for student_id, _ in make_class.MISSING]
    assert ids == sorted(submitted + missing)
    assert len(missing) == 1 and not list(CLASS.rglob(f"ex_02_{missing[0]}.*"))


def test_every_variant_starts_from_a_correct_solution() -> None:
    """Each edit was found (the generator raises otherwise) and changed something, except the
    correct ones that differ only in form (encoding, notebook) or not at all."""
    for variant in make_class.VARIANTS:
        if variant.kind != "py":
            continue
        base = make_class.with_header((make_class.SOLUTIONS / make_class.BASES[variant.base]).read_text("utf-8"),
                                      variant.student_id)
        text = submission_file(variant.student_id).read_bytes().decode(variant.encoding)
        same = variant.change is make_class.unchanged
        assert (text == base) == same, variant.student_id


def test_shift_jis_file_has_no_declaration_and_is_not_utf8() -> None:
    (variant,) = [variant for variant in make_class.VARIANTS if variant.encoding == "cp932"]
    raw = submission_file(variant.student_id).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "正規化" in raw.decode("cp932")
    assert b"coding" not in b"\n".join(raw.split(b"\n")[:2])


def test_notebook_is_valid_and_has_ipython_lines() -> None:
    (variant,) = [variant for variant in make_class.VARIANTS if variant.kind == "ipynb"]
    path = submission_file(variant.student_id)
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    sources = [cell.source for cell in book.cells if cell.cell_type == "code"]
    assert any(source.startswith("!pip install") for source in sources)
    assert any(source.startswith("%matplotlib inline") for source in sources)
    assert any("plt.show()" in source for source in sources)
    assert json.loads(path.read_text("utf-8"))["nbformat"] == 4


def test_an_edit_that_does_not_apply_stops_the_generator() -> None:
    with pytest.raises(ValueError, match="exactly one occurrence"):
        make_class.replace_once("a\na\n", "a\n", "b\n")
    with pytest.raises(ValueError, match="found 0"):
        make_class.replace_once("a\n", "c\n", "b\n")
