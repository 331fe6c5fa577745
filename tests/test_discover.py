"""Finding submissions: folders, LMS zips (including hostile ones), single files, rosters."""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from pathlib import Path

import pytest

from grader.i18n import LANGUAGES, Catalogue, Message
from grader.intake import discover as discover_module
from grader.intake.discover import (
    MESSAGE_KEYS,
    DiscoveryError,
    decode_member_name,
    discover,
    discover_all,
    normalize_student_id,
)
from grader.intake.roster import RosterEntry, RosterIndex, read_roster_entries

CATALOGUE = Catalogue.load_engine()
LMS = "山田 太郎_1234567_assignsubmission_file_"


def assert_renders(message: Message) -> None:
    """Every message we produce renders in every language with the params it carries."""
    for lang in LANGUAGES:
        assert CATALOGUE.render(message, lang)


def write(path: Path, text: str = "x = 1\n", mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


class RawNameInfo(zipfile.ZipInfo):
    """A member whose name is stored as given bytes without the UTF-8 flag (Japanese Windows zips)."""

    def __init__(self, raw: bytes, date_time: tuple[int, ...] = (2024, 5, 1, 12, 0, 0)) -> None:
        super().__init__(raw.decode("cp437"), date_time)

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # overrides zipfile's name encoder
        return self.filename.encode("cp437"), self.flag_bits


def make_zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in members:
            zf.writestr(info, data)
    return path


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# ---------------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Ｂ２２０１", "B2201"), ("b2201", "B2201"), (" s0001 ", "S0001"), ("ａｂ－１", "AB-1")],
)
def test_normalize_student_id(raw: str, expected: str) -> None:
    assert normalize_student_id(raw) == expected


def test_full_width_id_and_case_insensitive_prefix(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "ex_02_Ｂ２２０１.py")
    write(root / "EX_02_s0002.PY")
    write(root / "Ex_02_c3.IPYNB", "{}")
    found = discover(root, tmp_path / "scratch")
    assert [(s.student_id, s.kind) for s in found] == [("B2201", "py"), ("C3", "ipynb"), ("S0002", "py")]
    assert found[0].source == "ex_02_Ｂ２２０１.py"
    assert found[0].path == root / "ex_02_Ｂ２２０１.py"
    assert all(s.warnings == () for s in found)


def test_lms_folders_in_japanese_at_any_depth(tmp_path: Path) -> None:
    root = tmp_path / "download"
    write(root / LMS / "ex_02_1234567.py")
    write(root / "佐藤 花子_7654321_assignsubmission_file_" / "課題" / "ex_02_7654321.ipynb", "{}")
    found = discover(root, tmp_path / "scratch")
    assert [s.source for s in found] == [
        f"{LMS}/ex_02_1234567.py",
        "佐藤 花子_7654321_assignsubmission_file_/課題/ex_02_7654321.ipynb",
    ]
    assert [s.student_id for s in found] == ["1234567", "7654321"]


def test_hidden_checkpoint_and_macosx_files_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "ex_02_A1.py")
    write(root / ".ipynb_checkpoints" / "ex_02_A1-checkpoint.ipynb", "{}")
    write(root / "__MACOSX" / "._ex_02_A1.py")
    write(root / ".ex_02_A2.py")
    result = discover_all(root, tmp_path / "scratch")
    assert [s.student_id for s in result.submissions] == ["A1"]
    assert result.ignored == [] and result.warnings == []


def test_near_misses_are_listed_and_other_files_ignored_silently(tmp_path: Path) -> None:
    root = tmp_path / "in"
    near = ["ex_2_1234.py", "ex02_1234.py", "ex_02_.py", "ex_02_1234 (1).py", "ex_02_1234.py.txt", "ex_02_1234.zip"]
    for name in near:
        write(root / LMS / name)
    for name in ["report.pdf", "ex_03_1234.py", "main.py", "ex_02_1234.pdf", "ex_20_1234.py"]:
        write(root / name)
    result = discover_all(root, tmp_path / "scratch")
    assert result.submissions == []
    assert result.ignored == sorted(f"{LMS}/{name}" for name in near)


# ---------------------------------------------------------------------------------------------------
# Duplicates


def test_newest_wins_and_warning_names_the_others(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "first" / "ex_02_S1.py", mtime=1_000_000)
    write(root / "second" / "ex_02_S1.py", mtime=3_000_000)
    write(root / "ex_02_s1.ipynb", "{}", mtime=2_000_000)
    [kept] = discover(root, tmp_path / "scratch")
    assert kept.source == "second/ex_02_S1.py"
    assert kept.mtime == 3_000_000
    [warning] = kept.warnings
    assert warning.key == "discover.duplicate"
    assert "first/ex_02_S1.py" in warning.params["ignored"]
    assert "ex_02_s1.ipynb" in warning.params["ignored"]
    assert "first/ex_02_S1.py" in CATALOGUE.render(warning, "ja")
    assert_renders(warning)


def test_tie_prefers_py_then_lexicographic_source(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "b" / "ex_02_T1.py", mtime=5_000_000)
    write(root / "a" / "ex_02_T1.ipynb", "{}", mtime=5_000_000)
    write(root / "c" / "ex_02_T1.py", mtime=5_000_000)
    [kept] = discover(root, tmp_path / "scratch")
    assert kept.source == "b/ex_02_T1.py"
    assert kept.warnings[0].params["ignored"] == "c/ex_02_T1.py, a/ex_02_T1.ipynb"


# ---------------------------------------------------------------------------------------------------
# Single files and errors


def test_single_file(tmp_path: Path) -> None:
    path = write(tmp_path / "ex_02_B2201.py")
    [found] = discover(path, tmp_path / "scratch")
    assert (found.student_id, found.path, found.source, found.kind) == ("B2201", path, "ex_02_B2201.py", "py")


def test_single_file_with_a_wrong_name_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "ex02_B2201.py")
    with pytest.raises(DiscoveryError) as info:
        discover(path, tmp_path / "scratch")
    assert info.value.message.key == "discover.not_a_submission"
    assert_renders(info.value.message)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError) as info:
        discover(tmp_path / "nope", tmp_path / "scratch")
    assert info.value.message.key == "discover.unreadable"
    assert "nope" in str(info.value)
    assert_renders(info.value.message)


def test_broken_and_empty_zips_are_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DiscoveryError) as info:
        discover(broken, tmp_path / "scratch")
    assert info.value.message.key == "discover.not_a_zip"
    assert_renders(info.value.message)

    empty = make_zip(tmp_path / "empty.zip", [])
    with pytest.raises(DiscoveryError) as info:
        discover(empty, tmp_path / "scratch")
    assert info.value.message.key == "discover.empty_zip"
    assert_renders(info.value.message)


def test_zip_caps(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", [(f"ex_02_A{i}.py", b"x = 1\n" * 10) for i in range(3)])
    with pytest.raises(DiscoveryError) as info:
        discover_all(archive, tmp_path / "s1", max_members=2)
    assert info.value.message.key == "discover.zip_too_many_members"
    assert_renders(info.value.message)
    with pytest.raises(DiscoveryError) as info:
        discover_all(archive, tmp_path / "s2", max_bytes=100)
    assert info.value.message.key == "discover.zip_too_large"
    assert_renders(info.value.message)


# ---------------------------------------------------------------------------------------------------
# Zips


def test_lms_zip_is_extracted_into_scratch(tmp_path: Path) -> None:
    info = zipfile.ZipInfo(f"{LMS}/ex_02_1234567.py", (2024, 5, 1, 10, 30, 0))
    archive = make_zip(
        tmp_path / "download.zip",
        [
            (info, "# 日本語\nx = 1\n".encode()),
            (f"{LMS}/onlinetext.html", b"<p>hi</p>"),
            ("__MACOSX/._ex_02_1234567.py", b"junk"),
        ],
    )
    scratch = tmp_path / "scratch"
    result = discover_all(archive, scratch)
    [found] = result.submissions
    assert found.student_id == "1234567"
    assert found.source == f"{LMS}/ex_02_1234567.py"
    assert found.path.is_relative_to(scratch)
    assert found.path.read_text(encoding="utf-8") == "# 日本語\nx = 1\n"
    assert found.mtime == pytest.approx(os.path.getmtime(found.path))
    assert result.warnings == []


def test_zip_duplicates_use_member_timestamps(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "d.zip",
        [
            (zipfile.ZipInfo("old/ex_02_S5.py", (2024, 5, 1, 9, 0, 0)), b"old = 1\n"),
            (zipfile.ZipInfo("new/ex_02_S5.ipynb", (2024, 5, 2, 9, 0, 0)), b"{}"),
        ],
    )
    [kept] = discover(archive, tmp_path / "scratch")
    assert kept.source == "new/ex_02_S5.ipynb" and kept.kind == "ipynb"
    assert kept.warnings[0].params["ignored"] == "old/ex_02_S5.py"


def test_hostile_zip_writes_nothing_outside_scratch(tmp_path: Path) -> None:
    scratch = tmp_path / "work" / "scratch"
    outside_target = tmp_path / "work" / "victim.txt"
    outside_target.parent.mkdir(parents=True)
    outside_target.write_text("original")
    link = zipfile.ZipInfo("ex_02_L1.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    dir_link = zipfile.ZipInfo("linked_dir")
    dir_link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(
        tmp_path / "evil.zip",
        [
            ("../evil.py", b"print('pwned')"),
            ("../ex_02_E1.py", b"x = 1"),
            ("ok/../../ex_02_E2.py", b"x = 1"),
            (str(tmp_path / "abs" / "ex_02_E3.py"), b"x = 1"),
            ("C:/Windows/ex_02_E4.py", b"x = 1"),
            (RawNameInfo(b"..\\ex_02_E5.py"), b"x = 1"),
            (link, str(outside_target).encode()),
            (dir_link, b"../../"),
            ("linked_dir/ex_02_E6.py", b"x = 1"),
            ("ok/ex_02_G1.py", b"good = 1\n"),
        ],
    )
    before = files_under(tmp_path) - files_under(scratch)
    result = discover_all(archive, scratch)

    assert [s.student_id for s in result.submissions] == ["E6", "G1"]
    assert all(s.path.resolve().is_relative_to(scratch.resolve()) for s in result.submissions)
    after = files_under(tmp_path) - files_under(scratch)
    assert after == before | {scratch}
    assert outside_target.read_text() == "original"
    assert not (tmp_path / "abs").exists()
    assert not any(p.is_symlink() for p in scratch.rglob("*"))
    keys = [(w.key, w.params["source"]) for w in result.warnings]
    unsafe = {source for key, source in keys if key == "discover.unsafe_member"}
    assert unsafe == {
        "../evil.py",
        "../ex_02_E1.py",
        "ok/../../ex_02_E2.py",
        str(tmp_path / "abs" / "ex_02_E3.py"),
        "C:/Windows/ex_02_E4.py",
        "../ex_02_E5.py",
    }
    assert ("discover.symlink_skipped", "ex_02_L1.py") in keys
    assert ("discover.symlink_skipped", "linked_dir") in keys
    for warning in result.warnings:
        assert_renders(warning)


def test_cp932_member_names(tmp_path: Path) -> None:
    # "ソ" is 0x83 0x5C in CP932: its second byte is a backslash, which must not split the path.
    folder = "ソフト 表示_1234_assignsubmission_file_"
    raw = f"{folder}\\ex_02_１２３４.py".encode("cp932")
    archive = make_zip(tmp_path / "sjis.zip", [(RawNameInfo(raw), b"x = 1\n")])
    with zipfile.ZipFile(archive) as zf:
        [info] = zf.infolist()
        assert not info.flag_bits & 0x800
        assert decode_member_name(info) == f"{folder}/ex_02_１２３４.py"
    [found] = discover(archive, tmp_path / "scratch")
    assert found.student_id == "1234"
    assert found.source == f"{folder}/ex_02_１２３４.py"


def test_utf8_names_without_the_flag_and_cp437_fallback(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "mac.zip",
        [
            (RawNameInfo("山田/ex_02_M1.py".encode()), b"x = 1\n"),
            (RawNameInfo(b"\x81\xff/ex_02_M2.py"), b"x = 1\n"),  # valid in neither UTF-8 nor CP932
        ],
    )
    found = discover(archive, tmp_path / "scratch")
    assert [s.source for s in found] == ["山田/ex_02_M1.py", b"\x81\xff".decode("cp437") + "/ex_02_M2.py"]


def test_unreadable_member_is_a_warning_not_an_error(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "crc.zip", [("ex_02_C1.py", b"x = 1\n" * 50), ("ex_02_C2.py", b"y = 2\n")])
    data = bytearray(archive.read_bytes())
    offset = data.find(b"x = 1\n")
    data[offset] = ord("z")  # stored, not compressed: corrupting a byte breaks the CRC
    archive.write_bytes(bytes(data))
    result = discover_all(archive, tmp_path / "scratch")
    assert [s.student_id for s in result.submissions] == ["C2"]
    [warning] = result.warnings
    assert warning.key == "discover.member_unreadable" and warning.params["source"] == "ex_02_C1.py"
    assert_renders(warning)


# ---------------------------------------------------------------------------------------------------
# Symlinks and special files in folders


def test_symlinks_in_folders_are_skipped_with_a_warning(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "ex_02_X1.py")
    root = tmp_path / "in"
    write(root / "ex_02_R1.py")
    (root / "ex_02_X1.py").symlink_to(outside)
    (root / "linked").symlink_to(outside.parent, target_is_directory=True)
    os.mkfifo(root / "ex_02_F1.py")
    result = discover_all(root, tmp_path / "scratch")
    assert [s.student_id for s in result.submissions] == ["R1"]
    assert {(w.key, w.params["source"]) for w in result.warnings} == {
        ("discover.symlink_skipped", "ex_02_X1.py"),
        ("discover.symlink_skipped", "linked"),
        ("discover.special_file_skipped", "ex_02_F1.py"),
    }
    for warning in result.warnings:
        assert_renders(warning)


# ---------------------------------------------------------------------------------------------------
# Roster (read by grader.intake.roster, which also knows participant numbers and names)


def read_roster(path: Path) -> list[str]:
    return [entry.student_id for entry in read_roster_entries(path).entries]


def test_roster_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    text = "student_id,氏名\r\nＢ２２０１,山田 太郎\r\ns0002,佐藤 花子\r\n\r\nB2201,重複\r\n"
    path.write_bytes(text.encode("utf-8-sig"))
    assert read_roster(path) == ["B2201", "S0002"]


def test_roster_cp932_from_excel(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("氏名, Student_ID \r\n山田 太郎,b2201\r\n髙橋 ソウ,S0003\r\n".encode("cp932"))
    assert read_roster(path) == ["B2201", "S0003"]


def test_roster_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("学籍番号,氏名\nB2201,山田\n", encoding="utf-8")
    with pytest.raises(DiscoveryError) as info:
        read_roster(path)
    message = info.value.message
    assert message.key == "discover.roster_missing_column"
    assert "学籍番号" in message.params["columns"]
    assert "student_id" in CATALOGUE.render(message, "ja")
    assert_renders(message)


def test_roster_errors(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError) as info:
        read_roster(tmp_path / "missing.csv")
    assert info.value.message.key == "discover.unreadable"
    path = tmp_path / "binary.csv"
    path.write_bytes(b"student_id\n\x81\xff\xfe\n")
    with pytest.raises(DiscoveryError) as info:
        read_roster(path)
    assert info.value.message.key == "discover.roster_encoding"
    assert_renders(info.value.message)


# ---------------------------------------------------------------------------------------------------
# Catalogue


def test_every_message_key_is_in_the_catalogue() -> None:
    source = Path(discover_module.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'"(discover\.[a-z_]+)"', source))
    assert used == set(MESSAGE_KEYS)
    for key in MESSAGE_KEYS:
        assert key in CATALOGUE
        for lang in LANGUAGES:
            assert CATALOGUE.text(key, lang).strip()


# ---------------------------------------------------------------------------------------------------
# Impersonation: a Moodle folder is one participant's (issue 11.1, 13.5)

VICTIM = "Victim Vee_111_assignsubmission_file_"
MALLORY = "Mallory Em_222_assignsubmission_file_"


def roster_of(ids: dict[str, str]) -> RosterIndex:
    """A roster of (participant number -> id), as ``--roster`` with a participant column gives."""
    return RosterIndex([RosterEntry(student_id, student_id, participant, None)
                        for participant, student_id in ids.items()])


@pytest.mark.parametrize("name", ["ex_02_İ001.py", "ex_02_ı01.py", "ex_02_ß01.py", "ex_02_A1_v2.py",
                                  "ex_02_" + "B" * 33 + ".py", "ex_02_" + "B" * 240 + ".py"])
def test_an_id_is_ascii_letters_and_digits_after_nfkc(tmp_path: Path, name: str) -> None:
    write(tmp_path / "class" / name)
    found = discover_all(tmp_path / "class", tmp_path / "scratch")
    assert found.submissions == []
    assert all(submission.student_id.isascii() for submission in found.submissions)


@pytest.mark.parametrize("name", ["ex_02_ſ001.py", "ex_02_①23.py", "ex_02_Ⅻ01.py", "ex_02_Ｂ２２０１.py"])
def test_compatibility_characters_become_their_ascii_id(tmp_path: Path, name: str) -> None:
    write(tmp_path / "class" / name)
    (submission,) = discover(tmp_path / "class", tmp_path / "scratch")
    assert re.fullmatch("[A-Z0-9]+", submission.student_id)


def test_someone_elses_id_in_ones_own_folder_is_graded_for_the_owner_with_a_roster(tmp_path: Path) -> None:
    victim = write(tmp_path / "class" / VICTIM / "ex_02_V0001.py", "victim = 1\n", mtime=1_000)
    write(tmp_path / "class" / MALLORY / "ex_02_Ｖ０００１.py", "mallory = 1\n", mtime=2_000)  # newer
    found = discover_all(tmp_path / "class", tmp_path / "scratch", roster=roster_of({"111": "V0001", "222": "M0001"}))
    by_id = {submission.student_id: submission for submission in found.submissions}
    assert by_id["V0001"].path == victim and by_id["V0001"].warnings == ()
    assert by_id["M0001"].source.startswith(MALLORY)
    (flag,) = [warning for warning in found.warnings if warning.key == "discover.id_not_owner"]
    assert (flag.params["file_id"], flag.params["student_id"], flag.params["participant"]) == ("V0001", "M0001", "222")
    assert by_id["M0001"].warnings == (flag,)  # the owner's report says it too
    assert_renders(flag)


def test_a_typo_in_the_id_is_flagged_and_graded_for_the_owner(tmp_path: Path) -> None:
    write(tmp_path / "class" / VICTIM / "ex_02_V0010.py")  # meant V0001
    found = discover_all(tmp_path / "class", tmp_path / "scratch", roster=roster_of({"111": "V0001"}))
    assert [submission.student_id for submission in found.submissions] == ["V0001"]
    assert [warning.key for warning in found.warnings] == ["discover.id_not_owner"]


def test_the_owners_own_file_beats_a_newer_one_named_for_someone_else(tmp_path: Path) -> None:
    own = write(tmp_path / "class" / MALLORY / "ex_02_M0001.py", mtime=1_000)
    write(tmp_path / "class" / MALLORY / "ex_02_V0001.py", mtime=2_000)
    found = discover_all(tmp_path / "class", tmp_path / "scratch", roster=roster_of({"111": "V0001", "222": "M0001"}))
    assert [(submission.student_id, submission.path) for submission in found.submissions] == [("M0001", own)]


def test_a_participant_not_in_the_roster_cannot_claim_an_enrolled_id(tmp_path: Path) -> None:
    write(tmp_path / "class" / MALLORY / "ex_02_V0001.py")
    write(tmp_path / "class" / "Other One_333_assignsubmission_file_" / "ex_02_X0001.py")
    found = discover_all(tmp_path / "class", tmp_path / "scratch", roster=roster_of({"111": "V0001"}))
    assert [submission.student_id for submission in found.submissions] == ["X0001"]
    assert [warning.key for warning in found.warnings] == ["discover.claims_enrolled"]


def test_without_a_roster_an_id_claimed_by_two_participants_is_graded_for_neither(tmp_path: Path) -> None:
    write(tmp_path / "class" / VICTIM / "ex_02_V0001.py", mtime=1_000)
    write(tmp_path / "class" / MALLORY / "ex_02_v0001.py", mtime=2_000)
    write(tmp_path / "class" / "Third Tee_333_assignsubmission_file_" / "ex_02_T0001.py")
    found = discover_all(tmp_path / "class", tmp_path / "scratch")
    assert [submission.student_id for submission in found.submissions] == ["T0001"]
    (warning,) = found.warnings
    assert warning.key == "discover.id_contested" and warning.params["participants"] == "111, 222"
    assert_renders(warning)


def test_without_a_roster_a_folder_with_several_ids_makes_no_extra_student(tmp_path: Path) -> None:
    write(tmp_path / "class" / MALLORY / "ex_02_M0001.py")
    write(tmp_path / "class" / MALLORY / "ex_02_MADEUP1.py")
    found = discover_all(tmp_path / "class", tmp_path / "scratch")
    assert found.submissions == []
    assert [warning.key for warning in found.warnings] == ["discover.several_ids"]


def test_a_moodle_zip_binds_files_to_their_folders_too(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "all.zip", [(f"{VICTIM}/ex_02_V0001.py", b"v = 1\n"),
                                              (f"{MALLORY}/ex_02_V0001.py", b"m = 1\n")])
    found = discover_all(archive, tmp_path / "scratch", roster=roster_of({"111": "V0001", "222": "M0001"}))
    by_id = {submission.student_id: submission for submission in found.submissions}
    assert by_id["V0001"].path.read_bytes() == b"v = 1\n"
    assert by_id["M0001"].path.read_bytes() == b"m = 1\n"


def test_a_folder_name_that_is_not_utf8_is_shown_decoded(tmp_path: Path) -> None:
    root = tmp_path / "class"
    folder = os.fsencode(root) + b"/" + "テスト_1234_assignsubmission_file_".encode("cp932")
    os.makedirs(folder)
    with open(folder + b"/ex_02_C0001.py", "w") as stream:
        stream.write("x = 1\n")
    (submission,) = discover(root, tmp_path / "scratch")
    assert submission.source == "テスト_1234_assignsubmission_file_/ex_02_C0001.py"
    submission.source.encode("utf-8")  # no surrogate escapes left


# ---------------------------------------------------------------------------------------------------
# A student's own zip in their Moodle folder (issue 13.5)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("inner", ["ex_02_V0001.py", "ex_02/ex_02_V0001.py", "課題2/sub/ex_02_V0001.py"])
def test_a_zip_of_the_file_or_its_folder_in_a_moodle_folder_is_graded(tmp_path: Path, inner: str) -> None:
    root = tmp_path / "class"
    (root / VICTIM).mkdir(parents=True)
    (root / VICTIM / "ex_02_V0001.zip").write_bytes(zip_bytes({inner: b"v = 1\n"}))
    found = discover_all(root, tmp_path / "scratch")
    (submission,) = found.submissions
    assert submission.student_id == "V0001" and submission.path.read_bytes() == b"v = 1\n"
    assert submission.source == f"{VICTIM}/ex_02_V0001.zip/{inner}"
    assert submission.path.is_relative_to(tmp_path / "scratch") and found.ignored == []


def test_zips_nest_at_most_two_deep_inside_a_class_zip(tmp_path: Path) -> None:
    two = zip_bytes({"outer/ex_02_V0001.zip": zip_bytes({"ex_02_V0001.py": b"v = 2\n"})})
    three = zip_bytes({"a.zip": zip_bytes({"b.zip": zip_bytes({"ex_02_M0001.py": b"m = 3\n"})})})
    archive = make_zip(tmp_path / "all.zip", [(f"{VICTIM}/submission.zip", two), (f"{MALLORY}/deep.zip", three)])
    found = discover_all(archive, tmp_path / "scratch")
    assert [(item.student_id, item.path.read_bytes()) for item in found.submissions] == [("V0001", b"v = 2\n")]
    assert f"{MALLORY}/deep.zip/a.zip" in found.ignored  # depth 3 is not opened, and the TA sees it


def test_a_typo_in_a_zipped_file_is_graded_for_the_owner_and_a_broken_zip_costs_nothing(tmp_path: Path) -> None:
    root = tmp_path / "class"
    (root / VICTIM).mkdir(parents=True)
    (root / VICTIM / "ex_02_V0001.zip").write_bytes(zip_bytes({"ex_02_V0010.py": b"v = 1\n"}))
    (root / MALLORY).mkdir(parents=True)
    (root / MALLORY / "ex_02_M0001.zip").write_bytes(b"PK\x03\x04 not really a zip")
    found = discover_all(root, tmp_path / "scratch", roster=roster_of({"111": "V0001", "222": "M0001"}))
    assert [item.student_id for item in found.submissions] == ["V0001"]
    assert sorted(warning.key for warning in found.warnings) == ["discover.id_not_owner",
                                                                 "discover.nested_zip_unusable"]
    for warning in found.warnings:
        assert_renders(warning)


def test_a_roster_without_participant_numbers_takes_moodle_files_at_their_word(tmp_path: Path) -> None:
    """The spec's roster has only ``student_id``: it cannot say whose a folder is, so it takes nothing away."""
    write(tmp_path / "class" / VICTIM / "ex_02_V0001.py")
    write(tmp_path / "class" / MALLORY / "ex_02_M0001.py")
    roster = RosterIndex([RosterEntry("V0001", "V0001"), RosterEntry("M0001", "M0001")])
    found = discover_all(tmp_path / "class", tmp_path / "scratch", roster=roster)
    assert [submission.student_id for submission in found.submissions] == ["M0001", "V0001"]
    assert found.warnings == []


def test_a_student_whose_roster_row_lacks_a_participant_number_is_still_graded(tmp_path: Path) -> None:
    write(tmp_path / "class" / VICTIM / "ex_02_V0001.py")
    write(tmp_path / "class" / MALLORY / "ex_02_M0001.py")
    roster = RosterIndex([RosterEntry("V0001", "V0001", "111"), RosterEntry("M0001", "M0001")])
    found = discover_all(tmp_path / "class", tmp_path / "scratch", roster=roster)
    assert [submission.student_id for submission in found.submissions] == ["M0001", "V0001"]


def test_a_folder_named_like_another_participants_inside_ones_own_counts_for_nothing(tmp_path: Path) -> None:
    """Moodle writes the outer folder; a student can create (or zip) one named like the victim's inside it."""
    write(tmp_path / "class" / VICTIM / "ex_02_V0001.py", "victim = 1\n")
    (tmp_path / "class" / MALLORY).mkdir(parents=True)
    (tmp_path / "class" / MALLORY / "sub.zip").write_bytes(zip_bytes({f"{VICTIM}/ex_02_V0001.py": b"m = 1\n"}))
    write(tmp_path / "class" / MALLORY / VICTIM / "ex_02_V0001.py", "m = 2\n", mtime=4_000_000_000)
    found = discover_all(tmp_path / "class", tmp_path / "scratch", roster=roster_of({"111": "V0001", "222": "M0001"}))
    by_id = {submission.student_id: submission for submission in found.submissions}
    assert by_id["V0001"].path.read_text() == "victim = 1\n"
    assert by_id["M0001"].source.startswith(MALLORY)


def test_nested_zips_cannot_multiply_the_work(tmp_path: Path) -> None:
    many = zip_bytes({f"f{index}.txt": b"" for index in range(1_001)})
    archive = make_zip(tmp_path / "all.zip", [(f"{MALLORY}/many.zip", many),
                                              (f"{VICTIM}/ex_02_V0001.py", b"v = 1\n")])
    found = discover_all(archive, tmp_path / "scratch")
    assert [item.student_id for item in found.submissions] == ["V0001"]
    (warning,) = found.warnings
    assert warning.key == "discover.nested_zip_unusable" and "1001" in warning.params["reason"]
