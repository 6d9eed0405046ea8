"""Local snapshots from real temporary git repositories and from diff text."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reviewer.adapters.local_source import (
    MAX_FILE_BYTES,
    LocalSourceError,
    snapshot_from_diff,
    snapshot_from_git,
)
from reviewer.diff import parse_file_patch
from reviewer.snapshot import FileStatus

PATCHES = Path(__file__).resolve().parents[1] / "data" / "patches"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose ``feature`` branch changes files of every kind against ``main``."""
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "mod.py").write_text("".join(f"v{i} = {i}\n" for i in range(1, 31)))
    (r / "gone.py").write_text("a = 1\n")
    (r / "old.py").write_text("".join(f"def f{i}():\n    return {i}\n" for i in range(12)))
    (r / "keep.py").write_text("".join(f"k{i} = {i}\n" for i in range(12)))
    (r / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0" + bytes(range(256)))
    commit(r, "base")
    git(r, "checkout", "-qb", "feature")
    lines = [f"v{i} = {i}\n" for i in range(1, 31)]
    lines[4] = "v5 = 'five'\n"  # head line 5
    lines.insert(20, "extra = eval(input())\n")  # head line 21
    (r / "mod.py").write_text("".join(lines))
    (r / "gone.py").unlink()
    (r / "new.py").write_text((r / "old.py").read_text().replace("return 7", "return 77"))
    (r / "old.py").unlink()
    (r / "sub").mkdir()
    (r / "keep.py").rename(r / "sub" / "kept.py")
    (r / "added.py").write_text("import os\nprint(os.environ)\n")
    (r / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0" + bytes(range(255, -1, -1)))
    (r / "latin1.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    (r / "huge.py").write_text("x = 1\n" * (MAX_FILE_BYTES // 6 + 10))
    commit(r, "feature work")
    # main moves on after the branch was cut: GitHub (base...head) would not show this
    git(r, "checkout", "-q", "main")
    (r / "later_on_main.py").write_text("print('main only')\n")
    commit(r, "main moves on")
    return r


def test_snapshot_from_git_has_every_kind_of_change(repo):
    snap = snapshot_from_git(repo, "main", "feature")
    files = {f.path: f for f in snap.files}
    assert "later_on_main.py" not in files  # diffed from the merge base
    assert snap.head_sha == git(repo, "rev-parse", "feature")
    assert snap.base_sha == git(repo, "merge-base", "main", "feature")
    assert snap.title == "feature work"

    added = files["added.py"]
    assert added.status is FileStatus.ADDED
    assert added.head_content == "import os\nprint(os.environ)\n"
    assert added.additions == 2 and added.skip_reason is None

    mod = files["mod.py"]
    assert mod.status is FileStatus.MODIFIED
    assert mod.head_content == git(repo, "show", "feature:mod.py") + "\n"
    fd = parse_file_patch(mod.path, mod.patch)  # GitHub-style patch: hunks, no header
    assert not mod.patch.startswith("---") and mod.patch.startswith("@@")
    assert fd.added_lines == {5, 21}
    assert mod.head_content.splitlines()[20] == "extra = eval(input())"

    gone = files["gone.py"]
    assert gone.status is FileStatus.REMOVED
    assert gone.head_content is None and gone.skip_reason is None

    renamed = files["new.py"]
    assert renamed.status is FileStatus.RENAMED and renamed.previous_path == "old.py"
    assert "return 77" in renamed.head_content
    assert parse_file_patch(renamed.path, renamed.patch).added_lines == {16}

    moved = files["sub/kept.py"]
    assert moved.status is FileStatus.RENAMED and moved.previous_path == "keep.py"
    assert moved.patch is None and moved.head_content.startswith("k0 = 0\n")

    assert files["logo.png"].skip_reason == "binary file"
    assert files["logo.png"].head_content is None
    assert files["latin1.txt"].skip_reason == "not UTF-8"
    assert files["huge.py"].skip_reason == "larger than 1 MB"
    assert files["huge.py"].head_content is None


def test_snapshot_is_plain_json(repo):
    snap = snapshot_from_git(repo, "main", "feature", repo_label="acme/repo")
    assert snap.repo == "acme/repo"
    again = type(snap).model_validate_json(snap.model_dump_json())
    assert again == snap


def test_unknown_revision_is_a_clear_error(repo):
    with pytest.raises(LocalSourceError, match="unknown revision 'nope'"):
        snapshot_from_git(repo, "main", "nope")
    with pytest.raises(LocalSourceError, match="not a revision"):
        snapshot_from_git(repo, "--output=/tmp/x", "feature")


def test_not_a_repository_is_a_clear_error(tmp_path):
    with pytest.raises(LocalSourceError):
        snapshot_from_git(tmp_path, "HEAD~1", "HEAD")


def test_same_revision_has_no_files(repo):
    assert snapshot_from_git(repo, "feature", "feature").files == []


def test_head_defaults_to_the_checked_out_commit(repo):
    git(repo, "checkout", "-q", "feature")
    snap = snapshot_from_git(repo, "main", None)
    assert snap.head_sha == git(repo, "rev-parse", "feature")
    assert "added.py" in {f.path for f in snap.files}


def test_snapshot_from_diff_uses_the_hunks_as_head_content():
    snap = snapshot_from_diff((PATCHES / "mixed.diff").read_text(), repo_label="cli")
    files = {f.path: f for f in snap.files}
    assert snap.repo == "cli" and snap.head_sha is None
    assert files["added.py"].head_content == "import os\n\n\ndef main():\n    print(os.getcwd())\n"
    assert files["gone.py"].status is FileStatus.REMOVED and files["gone.py"].head_content is None
    assert files["img.bin"].skip_reason == "binary file"
    assert files["moved/same.py"].skip_reason == "no content in the diff"
    mod_lines = files["mod.py"].head_content.split("\n")
    assert mod_lines[2] == "line 3 changed" and mod_lines[10] == ""
    assert files["nonl.txt"].head_content == "one\ntwo\nTHREE"
    assert files["new_name.py"].previous_path == "old_name.py"


def test_a_diff_showing_only_part_of_a_python_file_says_how_to_review_it_whole():
    diff = (
        "diff --git a/svc/views.py b/svc/views.py\n"
        "--- a/svc/views.py\n+++ b/svc/views.py\n"
        "@@ -10,4 +10,5 @@ def handler(request):\n"
        "         rows = load(request)\n"
        "         for row in rows:\n"
        "-            emit(row)\n"
        "+            if row:\n"
        "+                emit(row)\n"
        "     return rows\n"
    )
    snapshot = snapshot_from_diff(diff)
    [changed] = snapshot.files
    assert changed.skip_reason and "-U9999" in changed.skip_reason
    whole = snapshot_from_diff(
        "diff --git a/svc/new.py b/svc/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/svc/new.py\n"
        "@@ -0,0 +1,2 @@\n+def f():\n+    return 1\n"
    )
    assert whole.files[0].skip_reason is None
