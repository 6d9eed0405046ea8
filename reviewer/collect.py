"""Builds a PullRequestSnapshot from a code host: files, patches and head contents."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from reviewer.ports import CodeHost, PullRequestFile, PullRequestInfo
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot, decode_source

_KNOWN_STATUSES = {s.value for s in FileStatus}


def collect_snapshot(
    host: CodeHost, info: PullRequestInfo, *, fetch_workers: int = 4
) -> PullRequestSnapshot:
    """Everything the agents need about a PR, read through the CodeHost interface.

    Head contents are read at the head SHA (never a branch name, which may have moved).
    Files GitHub sends no patch for (binary, huge diffs) are kept with a skip reason so the
    review can say why they were not analysed.
    """
    entries = host.list_pull_request_files(info.repo, info.number)

    def build(entry: PullRequestFile) -> ChangedFile:
        return _changed_file(host, info, entry)

    if len(entries) > 1 and fetch_workers > 1:
        with ThreadPoolExecutor(max_workers=fetch_workers) as pool:
            files = list(pool.map(build, entries))
    else:
        files = [build(e) for e in entries]
    return PullRequestSnapshot(
        repo=info.repo,
        number=info.number,
        base_sha=info.base_sha,
        head_sha=info.head_sha,
        title=info.title,
        files=files,
    )


def _changed_file(host: CodeHost, info: PullRequestInfo, entry: PullRequestFile) -> ChangedFile:
    status = entry.status if entry.status in _KNOWN_STATUSES else FileStatus.CHANGED.value
    changed = ChangedFile(
        path=entry.filename,
        status=FileStatus(status),
        previous_path=entry.previous_filename,
        patch=entry.patch,
        additions=entry.additions,
        deletions=entry.deletions,
    )
    if status == FileStatus.REMOVED:
        return changed
    if entry.patch is None:
        changed.skip_reason = "no diff from GitHub (binary or too large)"
        return changed
    data = host.get_file_content(info.repo, entry.filename, info.head_sha)
    if data is None:
        changed.skip_reason = "file not found at the head commit"
        return changed
    changed.head_content, changed.skip_reason = decode_source(data)
    return changed
