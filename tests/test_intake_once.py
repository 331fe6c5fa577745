"""The input is walked once: files named without an id (``課題2.py`` in a Moodle owner folder) are found in
discovery's own walk of the folder or zip, and :func:`find_unnamed` only resolves their owners. Attacks on
that walk (zip bombs, symlinks, ``..`` names, non-UTF-8 folders, unreadable members) cost only their student."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.intake import discover as discover_module
from grader.intake.decode import MAX_FILE_BYTES
from grader.intake.discover import Discovery, discover_all
from grader.intake.roster import RosterEntry
from grader.intake.unnamed import LmsFindings, find_unnamed, merge

SOLUTION = (Path(__file__).parent / "fixtures" / "solutions" / "ex_02_S0001.py").read_text(encoding="utf-8")
YAMADA = "山田 太郎_101_assignsubmission_file_"
SATO = "佐藤 花子_102_assignsubmission_file_"
SUZUKI = "鈴木 一郎_103_assignsubmission_file_"
ROSTER = [RosterEntry("S0001", "S0001", participant="101", name="山田 太郎"),
          RosterEntry("S0002", "S0002", participant="102", name="佐藤 花子"),
          RosterEntry("S0003", "S0003", participant="103", name="鈴木 一郎")]
#: A Moodle download: two students named their file without an id, one correctly (with a helper beside it).
DOWNLOAD = {f"{YAMADA}/課題2.py": SOLUTION, f"{SATO}/sub/ex_02.py": SOLUTION,
            f"{SUZUKI}/ex_02_S0003.py": SOLUTION, f"{SUZUKI}/utils.py": "def helper():\n    pass\n"}


def make_folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def make_zip(archive: Path, files: dict[str, str | bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(archive, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return archive


class Reads:
    """Counts the walks of ``root`` and the zips opened while counting; refuses both once ``forbid``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.walks = 0
        self.zips = 0
        self.forbid = False
        real_walk, real_zip = os.walk, zipfile.ZipFile
        reads = self

        def walk(top: object, *args: object, **kwargs: object) -> Iterator[tuple[str, list[str], list[str]]]:
            if Path(os.fsdecode(top)) == root:  # type: ignore[arg-type]
                assert not reads.forbid, "the input was walked again"
                reads.walks += 1
            return real_walk(top, *args, **kwargs)  # type: ignore[arg-type]

        class CountedZipFile(real_zip):  # type: ignore[misc, valid-type]
            def __init__(self, *args: object, **kwargs: object) -> None:
                assert not reads.forbid, "a zip was opened again"
                reads.zips += 1
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(os, "walk", walk)
        monkeypatch.setattr(zipfile, "ZipFile", CountedZipFile)


def discover_then_resolve(path: Path, scratch: Path, reads: Reads) -> tuple[Discovery, LmsFindings]:
    discovery = discover_all(path, scratch)
    reads.forbid = True
    return discovery, find_unnamed(discovery, ROSTER)


def ids(discovery: Discovery, findings: LmsFindings) -> list[str]:
    return [submission.student_id for submission in merge(discovery, findings).submissions]


def test_a_moodle_folder_with_unnamed_files_is_walked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_folder(tmp_path / "class", DOWNLOAD)
    reads = Reads(monkeypatch, root)
    discovery, findings = discover_then_resolve(root, tmp_path / "scratch", reads)
    assert (reads.walks, reads.zips) == (1, 0)
    assert ids(discovery, findings) == ["S0001", "S0002", "S0003"]
    by_id = {submission.student_id: submission for submission in findings.submissions}
    assert by_id["S0001"].path == root / YAMADA / "課題2.py"  # read where it is, never copied or renamed
    assert (root / YAMADA / "課題2.py").is_file()
    assert [file.source for file in discovery.unnamed] == [f"{SATO}/sub/ex_02.py", f"{YAMADA}/課題2.py"]


def test_a_moodle_zip_with_unnamed_files_is_opened_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_zip(tmp_path / "all.zip", DOWNLOAD)  # type: ignore[arg-type]
    reads = Reads(monkeypatch, archive)
    discovery, findings = discover_then_resolve(archive, tmp_path / "scratch", reads)
    assert (reads.walks, reads.zips) == (0, 1)
    assert ids(discovery, findings) == ["S0001", "S0002", "S0003"]
    for submission in findings.submissions:
        assert submission.path.is_relative_to(tmp_path / "scratch")
        assert submission.path.name == f"ex_02_{submission.student_id}.py"
        assert submission.path.read_text(encoding="utf-8") == SOLUTION
    extracted = [path.read_text(encoding="utf-8") for path in (tmp_path / "scratch").rglob("*") if path.is_file()]
    assert extracted == [SOLUTION] * 3  # the helper beside a correctly named file is not even extracted


def test_an_unnamed_zip_bomb_costs_only_its_folder(tmp_path: Path) -> None:
    bomb = bytes(MAX_FILE_BYTES + 4096)  # zeros: deflates to a few kilobytes
    files: dict[str, str | bytes] = {f"{YAMADA}/課題2.py": SOLUTION}
    files.update({f"{YAMADA}/part{n}.py": bomb for n in range(6)})
    files[f"{SATO}/kadai.py"] = SOLUTION  # another student named without an id
    files[f"{SUZUKI}/utils.py"] = bomb  # a bomb beside a correctly named file, listed first ...
    files[f"{SUZUKI}/ex_02_S0003.py"] = SOLUTION
    archive = make_zip(tmp_path / "all.zip", files)
    discovery = discover_all(archive, tmp_path / "scratch")
    findings = find_unnamed(discovery, ROSTER)
    assert ids(discovery, findings) == ["S0001", "S0002", "S0003"]  # ... and crowds out nobody
    assert findings.submissions[0].source == f"{YAMADA}/課題2.py"
    extracted = sum(path.stat().st_size for path in (tmp_path / "scratch").rglob("*") if path.is_file())
    assert extracted <= 4 * (MAX_FILE_BYTES + 1) + 3 * len(SOLUTION.encode())  # one folder's budget, no more
    refused = [warning for warning in discovery.warnings if warning.key == "discover.folder_too_large"]
    assert refused and all(warning.params["source"].startswith(YAMADA) for warning in refused)


def test_a_class_wide_unnamed_bomb_is_a_discovery_error_like_a_named_one(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {f"Student {n}_{n}_assignsubmission_file_/kadai.py": bytes(1 << 20)
                                     for n in range(8)}
    archive = make_zip(tmp_path / "all.zip", files)
    with pytest.raises(discover_module.DiscoveryError) as raised:
        discover_all(archive, tmp_path / "scratch", max_bytes=3 << 20)
    assert raised.value.message.key == "discover.zip_too_large"


def test_symlinked_unnamed_files_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("def train():\n    pass\nSECRET = 1\n", encoding="utf-8")
    root = make_folder(tmp_path / "class", {f"{SATO}/kadai.py": SOLUTION})
    (root / YAMADA).mkdir()
    (root / YAMADA / "課題2.py").symlink_to(secret)
    (root / YAMADA / "linked").symlink_to(tmp_path, target_is_directory=True)
    discovery = discover_all(root, tmp_path / "scratch")
    findings = find_unnamed(discovery, ROSTER)
    assert ids(discovery, findings) == ["S0002"]
    skipped = {warning.params["source"] for warning in discovery.warnings if warning.key == "discover.symlink_skipped"}
    assert skipped == {f"{YAMADA}/課題2.py", f"{YAMADA}/linked"}

    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo(f"{YAMADA}/課題2.py")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, str(secret))
        zf.writestr(f"{SATO}/kadai.py", SOLUTION)
    discovery = discover_all(archive, tmp_path / "scratch-zip")
    assert ids(discovery, find_unnamed(discovery, ROSTER)) == ["S0002"]
    assert [warning.key for warning in discovery.warnings] == ["discover.symlink_skipped"]


def test_dot_dot_names_in_a_folder_with_unnamed_files_write_nothing_outside(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "all.zip", {
        f"{YAMADA}/../../evil.py": "print('escape')\n",
        f"{YAMADA}/..\\..\\evil2.py": "print('escape')\n",
        f"{YAMADA}/課題2.py": SOLUTION,
        f"../{SATO}/kadai.py": "print('escape')\n",
    })
    scratch = tmp_path / "deep" / "scratch"
    discovery = discover_all(archive, scratch)
    findings = find_unnamed(discovery, ROSTER)
    assert ids(discovery, findings) == ["S0001"]
    assert sorted(warning.key for warning in discovery.warnings) == ["discover.unsafe_member"] * 3
    outside = [path for path in tmp_path.rglob("*") if path.is_file() and not path.is_relative_to(scratch)]
    assert outside == [archive]


def test_an_unnamed_file_in_a_folder_that_is_not_utf8_is_resolved(tmp_path: Path) -> None:
    root = tmp_path / "class"
    folder = os.fsencode(root) + b"/" + YAMADA.encode("cp932")
    os.makedirs(folder)
    with open(folder + b"/\x89\xdb\x91\xe82.py", "w", encoding="utf-8") as stream:  # 課題2.py in CP932
        stream.write(SOLUTION)
    discovery = discover_all(root, tmp_path / "scratch")
    findings = find_unnamed(discovery, ROSTER)
    assert [(item.student_id, item.source) for item in findings.submissions] == [("S0001", f"{YAMADA}/課題2.py")]
    assert findings.submissions[0].path.read_text(encoding="utf-8") == SOLUTION


def test_an_unreadable_unnamed_member_is_that_students_warning(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "all.zip", {f"{YAMADA}/課題2.py": SOLUTION, f"{SATO}/kadai.py": SOLUTION},
                       method=zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    start = data.index(SOLUTION.encode()[:40])
    data[start] ^= 0xFF  # the first member's bytes no longer match its CRC
    archive.write_bytes(bytes(data))
    discovery = discover_all(archive, tmp_path / "scratch")
    findings = find_unnamed(discovery, ROSTER)
    assert ids(discovery, findings) == ["S0002"]
    unreadable = [warning for warning in findings.warnings if warning.key == "lms.member_unreadable"]
    assert [warning.params["source"] for warning in unreadable] == [f"{YAMADA}/課題2.py"]
    assert "CRC" in unreadable[0].params["reason"]
