"""Pull-request snapshots for local reviews: from a git repository (two revisions) or a diff file.

The snapshot has the same shape GitHub's API gives ``prepare`` (per-file hunk text without a
header, head contents, skip reasons), so the agents cannot tell a local review from a PR.
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Sequence
from pathlib import Path

from reviewer.diff import FileDiff, head_text_from_hunks, parse_unified_diff
from reviewer.snapshot import (
    MAX_CONFIG_BYTES,
    MAX_CONFIG_FILES,
    MAX_REPO_FILES,
    ChangedFile,
    FileStatus,
    PullRequestSnapshot,
    is_config_file,
)

MAX_FILE_BYTES = 1_000_000
# Options that make git's output the same whatever the user's configuration says.
_GIT_CONFIG = (
    "-c", "core.quotepath=false",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicprefix=false",
    "-c", "diff.relative=false",
    "-c", "color.ui=never",
)  # fmt: skip


class LocalSourceError(RuntimeError):
    """Git could not give us what a review needs (not a repository, unknown revision, ...)."""


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(
            ["git", *_GIT_CONFIG, *args], cwd=repo, capture_output=True, check=False
        )
    except FileNotFoundError as exc:
        raise LocalSourceError("git is not installed or not on PATH") from exc
    if check and proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip() or f"exit {proc.returncode}"
        raise LocalSourceError(f"git {' '.join(args[:2])} failed in {repo}: {detail}")
    return proc


def _rev_parse(repo: Path, rev: str) -> str:
    if rev.startswith("-"):
        raise LocalSourceError(f"not a revision: {rev!r}")
    out = _git(
        repo,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{rev}^{{commit}}",
        check=False,
    )
    if out.returncode != 0:
        raise LocalSourceError(f"unknown revision {rev!r} in {repo}")
    return out.stdout.decode().strip()


def read_head_content(repo: Path, head_sha: str, path: str) -> tuple[str | None, str | None]:
    """``(text, skip_reason)`` for a file at ``head_sha``: exactly one of them is set."""
    spec = f"{head_sha}:{path}"
    size = _git(repo, "cat-file", "-s", spec, check=False)
    if size.returncode != 0:
        return None, "not readable at head (submodule or missing)"
    if int(size.stdout.strip() or 0) > MAX_FILE_BYTES:
        return None, "larger than 1 MB"
    kind = _git(repo, "cat-file", "-t", spec, check=False).stdout.strip()
    if kind != b"blob":
        return None, f"not a regular file ({kind.decode() or 'unknown'})"
    data = _git(repo, "cat-file", "blob", spec).stdout
    return decode_content(data)


def decode_content(data: bytes) -> tuple[str | None, str | None]:
    """Text for analysis, or why there is none (the same rules for every source)."""
    if len(data) > MAX_FILE_BYTES:
        return None, "larger than 1 MB"
    if b"\0" in data:
        return None, "binary file"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "not UTF-8"


def _changed_file(fd: FileDiff) -> ChangedFile:
    return ChangedFile(
        path=fd.path,
        status=fd.status,
        previous_path=fd.previous_path,
        patch=fd.patch,
        additions=fd.additions,
        deletions=fd.deletions,
    )


def snapshot_from_git(
    repo_path: str | Path, base: str, head: str | None = "HEAD", *, repo_label: str | None = None
) -> PullRequestSnapshot:
    """The snapshot GitHub would give for a PR from ``head`` into ``base``.

    Like GitHub, the diff is taken from the merge base (``base...head``), so commits that
    landed on ``base`` after the branch was cut are not shown as the PR's changes; the
    snapshot's ``base_sha`` is that merge base, the revision left-side line numbers refer to.
    """
    repo = Path(repo_path).resolve()
    if not repo.is_dir():
        raise LocalSourceError(f"not a directory: {repo}")
    base_sha = _rev_parse(repo, base)
    head = head or "HEAD"
    head_sha = _rev_parse(repo, head)
    merge_base = _git(repo, "merge-base", base_sha, head_sha, check=False)
    if merge_base.returncode != 0:
        raise LocalSourceError(f"{base!r} and {head!r} have no common ancestor")
    diff_args: Sequence[str] = (
        "diff", "-M", "--no-color", "--no-ext-diff", "--no-textconv",
        f"{base_sha}...{head_sha}", "--",
    )  # fmt: skip
    raw = _git(repo, *diff_args).stdout
    # Non-UTF-8 content must not stop the parse; replacing bad bytes keeps every line in place
    # (such files are skipped below anyway, with the reason).
    text = raw.decode("utf-8", "replace")
    files: list[ChangedFile] = []
    for fd in parse_unified_diff(text):
        changed = _changed_file(fd)
        if fd.status is not FileStatus.REMOVED:
            if fd.is_binary:
                changed.skip_reason = "binary file"
            else:
                changed.head_content, changed.skip_reason = read_head_content(
                    repo, head_sha, fd.path
                )
        files.append(changed)
    title = _git(repo, "log", "-1", "--format=%s", head_sha, check=False)
    repo_files = list_tree(repo, head_sha)
    return PullRequestSnapshot(
        repo=repo_label or str(repo),
        base_sha=merge_base.stdout.decode().strip() or base_sha,
        head_sha=head_sha,
        title=title.stdout.decode("utf-8", "replace").strip(),
        files=files,
        repo_files=repo_files,
        config_files=read_config_files(repo, head_sha, repo_files),
    )


def list_tree(repo: Path, head_sha: str) -> list[str]:
    """Every file path at ``head_sha`` (at most ``MAX_REPO_FILES``; empty if git cannot say)."""
    listing = _git(repo, "ls-tree", "-r", "-z", "--name-only", head_sha, check=False)
    if listing.returncode != 0:
        return []
    names = listing.stdout.decode("utf-8", "replace").split("\0")
    return [name for name in names if name][:MAX_REPO_FILES]


def read_config_files(repo: Path, head_sha: str, repo_files: Sequence[str]) -> dict[str, str]:
    """The known configuration files at head: path -> text (unreadable or huge ones left out)."""
    configs: dict[str, str] = {}
    for path in repo_files:
        if len(configs) >= MAX_CONFIG_FILES:
            break
        if not is_config_file(path):
            continue
        size = _git(repo, "cat-file", "-s", f"{head_sha}:{path}", check=False)
        if size.returncode != 0 or int(size.stdout.strip() or 0) > MAX_CONFIG_BYTES:
            continue
        text, _ = read_head_content(repo, head_sha, path)
        if text is not None:
            configs[path] = text
    return configs


def _partial_python_problem(path: str, text: str) -> str | None:
    """Why a Python file seen only through its hunks cannot be analysed, if it cannot.

    With the default 3 lines of context, a function body often starts outside the diff, and
    the visible part does not parse; say how to give the reviewer the whole file instead of
    reporting a syntax error the author never wrote.
    """
    if not path.endswith((".py", ".pyi")):
        return None
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return (
            "only part of the file is in the diff and it does not parse on its own: review "
            "with --repo/--base/--head, or make the diff with full context (git diff -U9999)"
        )
    return None


def snapshot_from_diff(text: str, *, repo_label: str = "local") -> PullRequestSnapshot:
    """A snapshot from a unified diff alone: head content is what the hunks show.

    For modified files the lines the diff does not show are blank, so line numbers stay right
    but analyzers see only the changed neighbourhood.
    """
    files: list[ChangedFile] = []
    for fd in parse_unified_diff(text):
        changed = _changed_file(fd)
        if fd.status is not FileStatus.REMOVED:
            if fd.is_binary:
                changed.skip_reason = "binary file"
            elif fd.hunks:
                changed.head_content = head_text_from_hunks(fd)
                changed.skip_reason = _partial_python_problem(fd.path, changed.head_content)
            else:
                changed.skip_reason = "no content in the diff"
        files.append(changed)
    return PullRequestSnapshot(repo=repo_label, files=files)
