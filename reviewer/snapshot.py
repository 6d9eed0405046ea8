"""What a review looks at: the pull request's changed files, stored once and read by id."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"
    COPIED = "copied"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


class ChangedFile(BaseModel):
    """One file of the pull request as the agents see it.

    ``patch`` is GitHub's per-file unified diff hunk text (no ``---``/``+++`` header), or
    None when GitHub sends none (binary files, very large diffs). ``head_content`` is the
    whole file at the head revision when it could be read; ``skip_reason`` says why a file
    cannot be analysed (binary, too large, not UTF-8, ...) and ends up in the review.
    """

    model_config = ConfigDict(extra="forbid")

    path: str
    status: FileStatus = FileStatus.MODIFIED
    previous_path: str | None = None
    patch: str | None = None
    head_content: str | None = None
    additions: int = 0
    deletions: int = 0
    skip_reason: str | None = None


class PullRequestSnapshot(BaseModel):
    """Everything the agents need about one pull request at one head commit."""

    model_config = ConfigDict(extra="forbid")

    repo: str
    number: int | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    title: str = ""
    files: list[ChangedFile] = []
    # Repository context beyond the diff, for whole-project rules (import contracts, cycles,
    # "no test touched", a repo's own lint thresholds). Both may be empty (a bare diff): the
    # rules that need them then stay silent rather than guess.
    # Every file path in the tree at the head commit (capped; see the adapters).
    repo_files: list[str] = []
    # Known configuration files at head (``.importlinter``, ``tach.toml``, ``.pylintrc``,
    # ``pyproject.toml``, ``setup.cfg``, ``.reviewer.toml``, ...): path -> text.
    config_files: dict[str, str] = {}

    def file(self, path: str) -> ChangedFile | None:
        return next((f for f in self.files if f.path == path), None)


MAX_FILE_BYTES = 1_000_000


def decode_source(data: bytes, *, limit: int = MAX_FILE_BYTES) -> tuple[str | None, str | None]:
    """``(text, None)`` for a file the analyzers can read, else ``(None, skip reason)``."""
    if len(data) > limit:
        return None, f"larger than {limit // 1_000_000} MB ({len(data):,} bytes)"
    if b"\x00" in data[:8192]:
        return None, "binary file"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start})"


# Repository context for whole-project rules: the tree's paths and its known config files.
MAX_REPO_FILES = 50_000
MAX_CONFIG_BYTES = 256_000
MAX_CONFIG_FILES = 64
# Read where they sit at the repository root (that is where the tools look for them).
ROOT_CONFIG_NAMES = frozenset(
    {
        ".importlinter",
        "setup.cfg",
        "pyproject.toml",
        "tox.ini",
        "tach.toml",
        ".pylintrc",
        "pylintrc",
        "ruff.toml",
        ".ruff.toml",
        ".reviewer.toml",
    }
)
# Read wherever they sit (tach's per-module domain files live beside the modules).
NESTED_CONFIG_NAMES = frozenset({"tach.domain.toml"})


def is_config_file(path: str) -> bool:
    """Whether ``path`` is one of the configuration files whole-project rules read."""
    name = path.rsplit("/", 1)[-1]
    return ("/" not in path and name in ROOT_CONFIG_NAMES) or name in NESTED_CONFIG_NAMES
