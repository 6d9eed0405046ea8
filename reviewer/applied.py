"""Did the code at a finding change, and does it now read as the bot suggested? Pure comparisons.

Both questions compare a file at the head the bot reviewed (``before``) with a later head
(``after``). Lines move when code above them is added or removed, so the finding's lines are
first mapped through a line diff (difflib) to the region of ``after`` that replaced them;
only that region is compared. Whitespace at line ends is ignored (editors and formatters
differ there); indentation is not.
"""

from __future__ import annotations

from difflib import SequenceMatcher


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]


def _strip_final(lines: list[str]) -> list[str]:
    """A file ending in a newline splits into a last empty line that is not a line."""
    return lines[:-1] if lines and lines[-1] == "" else lines


def mapped_region(before: list[str], after: list[str], start: int, stop: int) -> tuple[int, int] | None:
    """The slice ``after[a:b]`` that took the place of ``before[start:stop]`` (0-based, stop
    exclusive), including lines inserted right at its edges; None when the region is outside
    ``before``."""
    if start < 0 or stop <= start or stop > len(before):
        return None
    a_start: int | None = None
    a_stop: int | None = None
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 == i2:  # an insertion: part of the region when it touches either edge
            if i1 == start:
                a_start = j1 if a_start is None else min(a_start, j1)
            if i1 == stop:
                a_stop = j2 if a_stop is None else max(a_stop, j2)
            continue
        if i1 <= start < i2:
            candidate = j1 + (start - i1) if tag == "equal" else j1
            a_start = candidate if a_start is None else min(a_start, candidate)
        if i1 < stop <= i2:
            candidate = j1 + (stop - i1) if tag == "equal" else j2
            a_stop = candidate if a_stop is None else max(a_stop, candidate)
    if a_start is None or a_stop is None:
        return None
    return a_start, max(a_start, a_stop)


def lines_changed(before: str, after: str | None, line: int, end_line: int | None = None) -> bool:
    """Whether lines ``line..end_line`` (1-based) of ``before`` read differently in ``after``
    (None: the file is gone, which is a change). Lines that only moved did not change."""
    if after is None:
        return True
    old, new = _strip_final(_lines(before)), _strip_final(_lines(after))
    start, stop = line - 1, (end_line or line)
    region = mapped_region(old, new, start, stop)
    if region is None:
        return False  # the finding is not in the reviewed file: nothing to say
    return new[region[0] : region[1]] != old[start:stop]


def suggestion_applied(
    before: str, after: str | None, line: int, end_line: int | None, suggestion: str
) -> bool:
    """Whether ``after`` holds ``suggestion`` where lines ``line..end_line`` of ``before`` were.

    The suggested lines must appear, in order and together, inside the region that replaced
    the finding's lines (a developer may commit the suggestion and touch a neighbouring line
    in the same push). An empty suggestion (delete the lines) is applied when the region is
    gone. A suggestion identical to the original lines is never "applied".
    """
    if after is None:
        return False
    old, new = _strip_final(_lines(before)), _strip_final(_lines(after))
    start, stop = line - 1, (end_line or line)
    region = mapped_region(old, new, start, stop)
    if region is None:
        return False
    original, replaced = old[start:stop], new[region[0] : region[1]]
    wanted = _strip_final(_lines(suggestion)) if suggestion else []
    if wanted == original or replaced == original:
        return False
    if not wanted:
        return not replaced
    if not any(w.strip() for w in wanted):
        return replaced == wanted
    width = len(wanted)
    return any(replaced[i : i + width] == wanted for i in range(len(replaced) - width + 1))


def snippet(text: str, line: int, end_line: int | None = None, *, context: int = 3) -> str:
    """The finding's lines with ``context`` lines around them: the code a verdict was about."""
    lines = _strip_final(text.replace("\r\n", "\n").split("\n"))
    first = max(0, line - 1 - context)
    last = min(len(lines), (end_line or line) + context)
    return "\n".join(lines[first:last])
