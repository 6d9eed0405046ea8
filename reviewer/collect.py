"""Builds a PullRequestSnapshot from a code host: files, patches and head contents."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from reviewer.ports import CodeHost, PullRequestFile, PullRequestInfo
from reviewer.snapshot import (
    MAX_CONFIG_BYTES,
    MAX_CONFIG_FILES,
    MAX_REPO_FILES,
    ChangedFile,
    FileStatus,
    PullRequestSnapshot,
    decode_source,
    is_config_file,
)

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
    repo_files = host.list_tree(info.repo, info.head_sha)[:MAX_REPO_FILES]
    return PullRequestSnapshot(
        repo=info.repo,
        number=info.number,
        base_sha=info.base_sha,
        head_sha=info.head_sha,
        title=info.title,
        files=files,
        repo_files=repo_files,
        config_files=_config_files(host, info, repo_files),
    )


def _config_files(host: CodeHost, info: PullRequestInfo, repo_files: list[str]) -> dict[str, str]:
    """The repository's configuration as of the BASE commit, never the PR's head: a pull
    request must not be able to relax the rules it is reviewed by."""
    configs: dict[str, str] = {}
    for path in (p for p in repo_files if is_config_file(p)):
        if len(configs) >= MAX_CONFIG_FILES:
            break
        data = host.get_file_content(info.repo, path, info.base_sha)
        if data is None or len(data) > MAX_CONFIG_BYTES:
            continue
        text, _problem = decode_source(data)  # an undecodable file is no configuration
        if text is not None:
            configs[path] = text
    return configs


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
