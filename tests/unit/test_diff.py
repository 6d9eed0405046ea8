"""The diff model reads real git patches and only lets anchors GitHub would accept through."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.diff import (
    DiffError,
    FileDiff,
    head_text_from_hunks,
    nearest_commentable,
    parse_file_patch,
    parse_unified_diff,
    validate_anchor,
)
from reviewer.snapshot import FileStatus

PATCHES = Path(__file__).resolve().parents[1] / "data" / "patches"


def _patch(name: str) -> str:
    return (PATCHES / name).read_text(encoding="utf-8")


def _by_path(files: list[FileDiff]) -> dict[str, FileDiff]:
    return {f.path: f for f in files}


# -- GitHub's per-file patch field -------------------------------------------------------------


def test_added_file_patch_makes_every_line_added_and_commentable():
    fd = parse_file_patch("added.py", _patch("added_py.patch"), status="added")
    assert fd.status is FileStatus.ADDED
    assert fd.added_lines == {1, 2, 3, 4, 5}
    assert fd.right_commentable == {1, 2, 3, 4, 5}
    assert fd.left_commentable == set()
    assert head_text_from_hunks(fd) == "import os\n\n\ndef main():\n    print(os.getcwd())\n"


def test_deleted_file_patch_has_only_left_side_lines():
    fd = parse_file_patch("gone.py", _patch("gone_py.patch"), status="removed")
    assert fd.added_lines == set()
    assert fd.right_commentable == set()
    assert fd.left_commentable == {1, 2}
    assert fd.removed_lines == {1, 2}
    assert head_text_from_hunks(fd) == ""


def test_modified_file_with_three_hunks():
    fd = parse_file_patch("mod.py", _patch("mod_py.patch"))
    assert len(fd.hunks) == 3
    # line 3 replaced, two lines inserted after head line 20, old line 34 deleted
    assert fd.added_lines == {3, 21, 22}
    assert fd.right_commentable == set(range(1, 7)) | set(range(18, 26)) | set(range(33, 39))
    assert 34 in fd.left_commentable and 34 in fd.removed_lines
    assert fd.left_commentable == set(range(1, 7)) | set(range(18, 24)) | set(range(31, 38))
    assert fd.additions == 3 and fd.deletions == 2


def test_head_text_keeps_line_numbers_and_blanks_unknown_lines():
    fd = parse_file_patch("mod.py", _patch("mod_py.patch"))
    lines = head_text_from_hunks(fd).split("\n")
    assert lines[2] == "line 3 changed"  # head line 3
    assert lines[20] == "inserted a" and lines[21] == "inserted b"  # head lines 21, 22
    assert lines[6:17] == [""] * 11  # outside any hunk
    assert lines[36] == "line 36"  # head line 37: two lines inserted above, old line 34 gone
    assert len(lines) - 1 == 38  # text stops after the last hunk, ending with a newline


def test_no_newline_at_end_of_file_is_understood():
    fd = parse_file_patch("nonl.txt", _patch("nonl_txt.patch"))
    assert fd.added_lines == {3}
    assert fd.right_commentable == {1, 2, 3}
    assert all(ln.kind in "+- " for h in fd.hunks for ln in h.lines)
    assert head_text_from_hunks(fd) == "one\ntwo\nTHREE"


def test_renamed_file_patch_keeps_previous_path():
    fd = parse_file_patch(
        "new_name.py", _patch("new_name_py.patch"), status="renamed", previous_path="old_name.py"
    )
    assert fd.status is FileStatus.RENAMED
    assert fd.previous_path == "old_name.py"
    assert fd.added_lines == {12}
    assert fd.right_commentable == set(range(9, 16))


def test_missing_patch_means_nothing_is_commentable():
    fd = parse_file_patch("logo.png", None, status="added")
    assert fd.hunks == [] and fd.patch is None
    assert fd.right_commentable == set() and fd.added_lines == set()
    assert not validate_anchor(fd, 1)
    assert nearest_commentable(fd, 1, 10) is None


def test_patch_with_odd_path_characters_is_parsed_by_content_only():
    fd = parse_file_patch("dir/we ird\tname\n.py", "@@ -0,0 +1 @@\n+x = 1")
    assert fd.path == "dir/we ird\tname\n.py"
    assert fd.added_lines == {1}


@pytest.mark.parametrize(
    "bad",
    [
        "not a diff",
        "@@ -1,2 +1,2 @@\n-a\n",  # shorter than the header says
        "@@ -1 +1 @@\n-a\n+b\n+c\n+d\n",  # longer than the header says
        "@@ -1 +1 @@\n-a\n+b\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
    ],
)
def test_malformed_patches_raise_diff_error(bad):
    with pytest.raises(DiffError):
        parse_file_patch("x.py", bad)


def test_unknown_status_is_a_diff_error():
    with pytest.raises(DiffError):
        parse_file_patch("x.py", "@@ -0,0 +1 @@\n+a", status="exploded")


_DIFF_ALPHABET = st.sampled_from(
    [
        "@@ ",
        "-1",
        ",2",
        " +1",
        " @@",
        "\n",
        "+",
        "-",
        " ",
        "\\ No newline at end of file",
        "diff --git a/x b/x",
        "--- a/x",
        "+++ b/x",
        "Binary files a/x and b/x differ",
        "x",
        "\r",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.lists(_DIFF_ALPHABET, max_size=40).map("".join)))
def test_any_text_never_crashes_parse_file_patch(text):
    try:
        fd = parse_file_patch("f.py", text)
    except DiffError:
        return
    assert fd.added_lines <= fd.right_commentable
    assert fd.removed_lines <= fd.left_commentable


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.lists(_DIFF_ALPHABET, max_size=40).map("".join)))
def test_any_text_never_crashes_parse_unified_diff(text):
    try:
        parse_unified_diff(text)
    except DiffError:
        pass


# -- full git diff ----------------------------------------------------------------------------


def test_full_git_diff_with_every_kind_of_file():
    files = _by_path(parse_unified_diff(_patch("mixed.diff")))
    assert set(files) == {
        "added.py",
        "gone.py",
        "img.bin",
        "mod.py",
        "moved/same.py",
        "my file.py",
        "new_name.py",
        "nonl.txt",
    }
    assert files["added.py"].status is FileStatus.ADDED
    assert files["gone.py"].status is FileStatus.REMOVED
    assert files["gone.py"].right_commentable == set()

    binary = files["img.bin"]
    assert binary.is_binary and binary.patch is None and binary.right_commentable == set()

    pure_rename = files["moved/same.py"]
    assert pure_rename.status is FileStatus.RENAMED
    assert pure_rename.previous_path == "same.py"
    assert pure_rename.hunks == [] and pure_rename.patch is None

    changed_rename = files["new_name.py"]
    assert changed_rename.status is FileStatus.RENAMED
    assert changed_rename.previous_path == "old_name.py"
    assert changed_rename.added_lines == {12}

    assert files["my file.py"].added_lines == {1}
    assert files["mod.py"].added_lines == {3, 21, 22}
    assert head_text_from_hunks(files["nonl.txt"]) == "one\ntwo\nTHREE"


def test_hunk_text_from_full_diff_round_trips_through_parse_file_patch():
    for fd in parse_unified_diff(_patch("mixed.diff")):
        if fd.patch is None:
            continue
        again = parse_file_patch(fd.path, fd.patch, status=fd.status)
        assert again.added_lines == fd.added_lines
        assert again.right_commentable == fd.right_commentable
        assert again.left_commentable == fd.left_commentable


def test_empty_diff_is_no_files():
    assert parse_unified_diff("") == []


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_diff_of_a_fresh_git_repo_matches_what_was_changed(tmp_path):
    _git(tmp_path, "init", "-q")
    source = [f"value_{i} = {i}\n" for i in range(1, 101)]
    (tmp_path / "big.py").write_text("".join(source))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    changed = list(source)
    changed[9] = "value_10 = 'ten'\n"  # head line 10
    changed.insert(60, "extra = True\n")  # head line 61
    (tmp_path / "big.py").write_text("".join(changed))
    _git(tmp_path, "commit", "-qam", "head")

    (fd,) = parse_unified_diff(_git(tmp_path, "diff", "--no-color", "HEAD~1", "HEAD"))
    assert fd.added_lines == {10, 61}
    assert len(fd.hunks) == 2
    head_lines = head_text_from_hunks(fd).split("\n")
    for n in fd.right_commentable:
        assert head_lines[n - 1] == changed[n - 1].rstrip("\n")


# -- anchors ----------------------------------------------------------------------------------


@pytest.fixture
def mod() -> FileDiff:
    return parse_file_patch("mod.py", _patch("mod_py.patch"))


def test_single_line_anchor_must_be_inside_a_hunk(mod):
    assert validate_anchor(mod, 3)
    assert validate_anchor(mod, 1)  # context lines are commentable too
    assert not validate_anchor(mod, 10)  # between hunks
    assert not validate_anchor(mod, 39)  # after the last hunk
    assert not validate_anchor(mod, 3, side="MIDDLE")


def test_left_side_anchor_uses_base_line_numbers(mod):
    assert validate_anchor(mod, 34, side="LEFT")  # the deleted line
    assert not validate_anchor(mod, 26, side="LEFT")


def test_multi_line_anchor_rules(mod):
    assert validate_anchor(mod, 22, start_line=20)
    assert not validate_anchor(mod, 20, start_line=22)  # reversed
    assert not validate_anchor(mod, 20, start_line=20)  # not a range
    assert not validate_anchor(mod, 20, start_line=5)  # spans two hunks
    assert not validate_anchor(mod, 22, start_line=10)  # start outside the diff


def test_nearest_commentable_moves_into_the_range(mod):
    assert nearest_commentable(mod, 3, None) == 3
    assert nearest_commentable(mod, 1, 4) == 1  # the line itself wins when commentable
    assert nearest_commentable(mod, 10, 22) == 21  # first added line in the range
    assert nearest_commentable(mod, 10, 19) == 18  # else the first context line
    assert nearest_commentable(mod, 7, 17) is None  # nothing in the diff
    assert nearest_commentable(mod, 10, 5) is None  # end before start: line only
