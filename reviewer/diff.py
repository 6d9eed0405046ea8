"""The diff model: which head/base lines a pull request touches and where GitHub accepts comments.

Parsing is done by ``unidiff``; this module turns its output into line sets the rest of the
core needs. GitHub only accepts review comments on lines that appear inside a diff hunk (one
bad anchor makes it reject the whole review), so anchors are validated here, locally, first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from unidiff import PatchedFile, PatchSet
from unidiff.constants import (
    LINE_TYPE_ADDED,
    LINE_TYPE_CONTEXT,
    LINE_TYPE_NO_NEWLINE,
    LINE_TYPE_REMOVED,
)

from reviewer.snapshot import FileStatus

_DEV_NULL = "/dev/null"
_RENAME_FROM = re.compile(r"^rename from (?P<path>.+)$")
_RENAME_TO = re.compile(r"^rename to (?P<path>.+)$")
_COPY_FROM = re.compile(r"^copy from (?P<path>.+)$")
_COPY_TO = re.compile(r"^copy to (?P<path>.+)$")


class DiffError(ValueError):
    """The text is not a diff we can read; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a hunk. ``kind`` is ``"+"``, ``"-"`` or ``" "``; numbers are 1-based."""

    kind: str
    value: str
    source_line: int | None = None
    target_line: int | None = None


@dataclass(frozen=True, slots=True)
class Hunk:
    """One ``@@`` block; ``lines`` excludes "\\ No newline at end of file" markers."""

    source_start: int
    source_length: int
    target_start: int
    target_length: int
    section_header: str
    lines: tuple[DiffLine, ...]
    head_missing_newline: bool = False

    @property
    def right_lines(self) -> frozenset[int]:
        return frozenset(ln.target_line for ln in self.lines if ln.target_line is not None)

    @property
    def left_lines(self) -> frozenset[int]:
        return frozenset(ln.source_line for ln in self.lines if ln.source_line is not None)


@dataclass(slots=True)
class FileDiff:
    """One file of a diff, with the line sets review anchors are checked against.

    ``patch`` is the GitHub-style hunk text (no ``---``/``+++`` header) or None when there is
    none (binary file, too-large diff, pure rename or mode change).
    """

    path: str
    status: FileStatus = FileStatus.MODIFIED
    previous_path: str | None = None
    is_binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)
    patch: str | None = None
    added_lines: set[int] = field(init=False)
    removed_lines: set[int] = field(init=False)
    right_commentable: set[int] = field(init=False)
    left_commentable: set[int] = field(init=False)
    # line number -> index of the hunk showing it, per side (for same-hunk range checks)
    _right_hunk: dict[int, int] = field(init=False, repr=False, compare=False)
    _left_hunk: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.added_lines = set()
        self.removed_lines = set()
        self._right_hunk = {}
        self._left_hunk = {}
        for index, hunk in enumerate(self.hunks):
            for ln in hunk.lines:
                if ln.target_line is not None:
                    self._right_hunk[ln.target_line] = index
                    if ln.kind == LINE_TYPE_ADDED:
                        self.added_lines.add(ln.target_line)
                if ln.source_line is not None:
                    self._left_hunk[ln.source_line] = index
                    if ln.kind == LINE_TYPE_REMOVED:
                        self.removed_lines.add(ln.source_line)
        self.right_commentable = set(self._right_hunk)
        self.left_commentable = set(self._left_hunk)

    @property
    def additions(self) -> int:
        return len(self.added_lines)

    @property
    def deletions(self) -> int:
        return len(self.removed_lines)

    def hunk_for(self, line: int, *, side: str = "RIGHT") -> Hunk | None:
        """The hunk that shows ``line`` on ``side``, if any."""
        index = (self._right_hunk if side == "RIGHT" else self._left_hunk).get(line)
        return None if index is None else self.hunks[index]


def _convert_hunks(patched: PatchedFile) -> list[Hunk]:
    hunks: list[Hunk] = []
    for uh in patched:
        lines: list[DiffLine] = []
        missing_newline = False
        for ul in uh:
            if ul.line_type == LINE_TYPE_NO_NEWLINE:
                # The marker belongs to the line before it: if that line exists on the head
                # side, the head file ends without a newline.
                if lines and lines[-1].target_line is not None:
                    missing_newline = True
                continue
            if ul.line_type not in (LINE_TYPE_ADDED, LINE_TYPE_REMOVED, LINE_TYPE_CONTEXT):
                continue
            lines.append(DiffLine(ul.line_type, ul.value, ul.source_line_no, ul.target_line_no))
            if ul.target_line_no is not None:
                missing_newline = False  # the head side went on after an earlier marker
        hunks.append(
            Hunk(
                source_start=uh.source_start,
                source_length=uh.source_length,
                target_start=uh.target_start,
                target_length=uh.target_length,
                section_header=uh.section_header,
                lines=tuple(lines),
                head_missing_newline=missing_newline,
            )
        )
    return hunks


def _hunk_text(patched: PatchedFile) -> str | None:
    if not len(patched):
        return None
    return "".join(str(h) for h in patched)


def _parse(text: str) -> PatchSet:
    try:
        return PatchSet(text)
    except DiffError:
        raise
    except Exception as exc:  # unidiff raises several types on odd input; one meaning for us
        raise DiffError(f"unreadable diff: {type(exc).__name__}: {exc}") from exc


def parse_file_patch(
    path: str,
    patch: str | None,
    *,
    status: FileStatus | str = FileStatus.MODIFIED,
    previous_path: str | None = None,
) -> FileDiff:
    """A FileDiff from GitHub's per-file ``patch`` field (hunks only, no file header).

    ``patch=None`` (binary file, or a diff GitHub considers too large) gives a FileDiff with
    no commentable lines: nothing may be anchored there. A fixed synthetic header is prepended
    so that odd characters in ``path`` can never confuse the parser.
    """
    try:
        status = FileStatus(status)
    except ValueError as exc:
        raise DiffError(f"unknown file status {status!r}") from exc
    if patch is None or not patch.strip():
        return FileDiff(path=path, status=status, previous_path=previous_path)
    if not patch.lstrip("\n").startswith("@@"):
        raise DiffError(f"patch for {path!r} does not start with a hunk header")
    body = patch if patch.endswith("\n") else patch + "\n"
    patchset = _parse("--- a/file\n+++ b/file\n" + body)
    if len(patchset) != 1:
        raise DiffError(f"patch for {path!r} describes {len(patchset)} files, expected 1")
    patched = patchset[0]
    consumed = sum(len(uh) + 1 for uh in patched)  # each hunk's lines plus its header
    if consumed != body.count("\n"):
        raise DiffError(f"patch for {path!r} has lines outside its hunks (counts do not match)")
    return FileDiff(
        path=path,
        status=status,
        previous_path=previous_path,
        hunks=_convert_hunks(patched),
        patch=patch,
    )


def _strip_prefix(name: str | None) -> str | None:
    if name is None or name == _DEV_NULL:
        return None
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        name = name[1:-1]
    if name[:2] in ("a/", "b/"):
        name = name[2:]
    return name


def _file_from_patched(patched: PatchedFile) -> FileDiff:
    info = [str(x).rstrip("\n") for x in (patched.patch_info or [])]
    rename_from = rename_to = copy_from = copy_to = None
    for text in info:
        if m := _RENAME_FROM.match(text):
            rename_from = m["path"]
        elif m := _RENAME_TO.match(text):
            rename_to = m["path"]
        elif m := _COPY_FROM.match(text):
            copy_from = m["path"]
        elif m := _COPY_TO.match(text):
            copy_to = m["path"]

    source = _strip_prefix(patched.source_file)
    target = _strip_prefix(patched.target_file)
    previous_path: str | None = None
    if patched.target_file == _DEV_NULL:
        status, path = FileStatus.REMOVED, source
    elif patched.source_file == _DEV_NULL:
        status, path = FileStatus.ADDED, target
    elif rename_to is not None or rename_from is not None:
        status = FileStatus.RENAMED
        path = rename_to or target
        previous_path = rename_from or source
    elif copy_to is not None:
        status, path, previous_path = FileStatus.COPIED, copy_to, copy_from or source
    else:
        status, path = FileStatus.MODIFIED, target or source
    if path is None:
        raise DiffError("a file in the diff has no name")
    return FileDiff(
        path=path,
        status=status,
        previous_path=previous_path,
        is_binary=bool(patched.is_binary_file),
        hunks=_convert_hunks(patched),
        patch=_hunk_text(patched),
    )


def parse_unified_diff(text: str) -> list[FileDiff]:
    """Every file of a full ``git diff`` (or plain unified diff) output.

    Understands renames and copies (``rename from/to``), new and deleted files, binary files
    ("Binary files ... differ") and "\\ No newline at end of file" markers.
    """
    if not text.strip():
        return []
    return [_file_from_patched(p) for p in _parse(text)]


def head_text_from_hunks(filediff: FileDiff) -> str:
    """The head-side text the hunks show, lines outside them left blank.

    For an added file this is the whole file. For a modified file the line numbers stay right
    (line N of the result is line N of the head file when the diff shows it), which is what
    analyzers reporting head-side line numbers need. Text after the last hunk is unknown and
    omitted.
    """
    known: dict[int, str] = {}
    missing_newline = False
    for hunk in filediff.hunks:
        for ln in hunk.lines:
            if ln.target_line is not None:
                known[ln.target_line] = ln.value
        if hunk.lines and hunk.head_missing_newline:
            missing_newline = True
    if not known:
        return ""
    last = max(known)
    out = []
    for n in range(1, last + 1):
        value = known.get(n, "\n")
        if not value.endswith("\n"):
            value += "\n"
        out.append(value)
    text = "".join(out)
    if missing_newline and text.endswith("\n"):
        text = text[:-1]
    return text


def validate_anchor(
    filediff: FileDiff, line: int, *, side: str = "RIGHT", start_line: int | None = None
) -> bool:
    """Whether GitHub will accept a review comment at this anchor.

    Both ends must be lines shown in the diff on ``side``; a multi-line range must have
    ``start_line < line`` and lie inside one hunk (GitHub rejects ranges spanning hunks).
    """
    if side not in ("RIGHT", "LEFT"):
        return False
    lines = filediff.right_commentable if side == "RIGHT" else filediff.left_commentable
    if line not in lines:
        return False
    if start_line is None:
        return True
    if start_line >= line or start_line not in lines:
        return False
    return filediff.hunk_for(start_line, side=side) is filediff.hunk_for(line, side=side)


def nearest_commentable(filediff: FileDiff, line: int, end_line: int | None) -> int | None:
    """A RIGHT-side line inside ``line..end_line`` to hang a single-line comment on.

    ``line`` itself when GitHub accepts it; else the first line the PR added in the range (the
    change is what the finding is about); else the first context line in range; else None.
    """
    last = end_line if end_line is not None and end_line >= line else line
    if line in filediff.right_commentable:
        return line
    in_range = sorted(n for n in filediff.right_commentable if line <= n <= last)
    if not in_range:
        return None
    added = [n for n in in_range if n in filediff.added_lines]
    return added[0] if added else in_range[0]
