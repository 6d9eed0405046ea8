"""What a review publishes beside the review itself: the check run's progress and the PR's one
summary comment. Best effort where it is only progress; never posted twice.
"""

from __future__ import annotations

from contextlib import nullcontext

from reviewer import checks, incremental, repo_config
from reviewer.adapters.github import (
    GitHubError,
    PermanentGitHubError,
    ReviewPostUncertain,
    TransientGitHubError,
)
from reviewer.adapters.storage import PostedKind, ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.adapters.storage.learning import learning_record
from reviewer.agents.registry import analysed_suffixes
from reviewer.diff import parse_file_patch
from reviewer.findings import Severity
from reviewer.incremental import IncrementalScope
from reviewer.merge import review_skip_notes
from reviewer.render import build_review
from reviewer.summary import SUMMARY_MARKER as SUMMARY_MARKER_TEXT
from reviewer.summary import build_summary, is_summary
from tasks.base import ReviewerTask
from tasks.learning import learning_url

FINISHED = {ReviewStatus.POSTED, ReviewStatus.COMPLETED, ReviewStatus.CANCELLED}


def backoff(retries: int) -> float:
    return min(300.0, 2.0 * 2**retries)


def connection(host):
    """One HTTP connection for a task's calls when the host supports it."""
    return host if hasattr(host, "__enter__") else nullcontext()


def check_run(services, review_id: int, log, updates, *, create: bool = False) -> None:
    """Send ``updates`` to the review's check run (created first when ``create``).

    Best effort: the check run shows progress, it is not the review, so a failure here is
    logged and the review goes on. A create is sent only after looking for the run by its
    id in the database, then by its external id on GitHub.
    """
    try:
        with services.db.session() as s:
            review = repo.get_review(s, review_id)
            if review is None or review.source != "github" or not review.head_sha:
                return
            tag = checks.external_id(review_id)
            run_id = repo.posted_github_id(s, review.repo, review.pr_number, PostedKind.CHECK_RUN, tag)
            repo_name, number, head_sha = review.repo, review.pr_number, review.head_sha
            installation_id = review.installation_id
        if run_id is None and not create:
            return
        host = services.code_host(installation_id)
        with connection(host):
            if run_id is None:
                run_id = host.find_check_run(repo_name, head_sha, checks.CHECK_NAME, tag)
                if run_id is None:
                    run_id = host.create_check_run(
                        repo_name, head_sha=head_sha, name=checks.CHECK_NAME, external_id=tag,
                        update=checks.queued(dashboard_url(services, review_id)),
                    )
                with services.db.session() as s:
                    repo.record_posted(
                        s, review_id=review_id, repo=repo_name, pr_number=number,
                        kind=PostedKind.CHECK_RUN, fingerprint=tag, github_id=run_id,
                    )
            for update in updates:
                host.update_check_run(repo_name, run_id, update)
    except Exception as exc:  # noqa: BLE001 - progress is best effort, never the review's failure
        log.warning("check_run.not_updated", error=f"{type(exc).__name__}: {exc}"[:500])


def report_progress(services, review_id: int, log) -> None:
    """The check run's per-agent progress, after an agent finished."""
    try:
        with services.db.session() as s:
            review = repo.get_review(s, review_id)
            if review is None or review.source != "github" or review.status in FINISHED:
                return
            done = repo.load_agent_results(s, review_id)
    except Exception as exc:  # noqa: BLE001 - progress is best effort
        log.warning("check_run.not_updated", error=f"{type(exc).__name__}: {exc}"[:500])
        return
    check_run(services, review_id, log, [checks.progress(done)])


def dashboard_url(services, review_id: int) -> str:
    return f"{services.settings.public_url.rstrip('/')}/dashboard/reviews/{review_id}"


SUMMARY_FINGERPRINT = "summary"


def publish_summary_and_check(task: ReviewerTask, review_id: int, log) -> None:
    """After the review is posted: the PR's one summary comment (created once, then edited),
    and the check run completed with its conclusion and annotations (once).

    Runs under the review's row lock, so two runs cannot both create the summary.
    """
    services = task.services
    with services.db.session() as s:
        review = repo.lock_review(s, review_id)
        if review is None or review.source != "github" or review.status != ReviewStatus.POSTED:
            return
        results = repo.load_agent_results(s, review_id)
        all_findings = repo.load_findings(s, review_id)
        posted = repo.reported_fingerprints(s, review.repo, review.pr_number, excluding_review=review_id)
        findings = incremental.fresh(all_findings, posted)  # as the review rendered them
        scope = IncrementalScope.model_validate(review.incremental) if review.incremental else None
        snapshot = repo.load_snapshot(s, review_id)
        skipped = review_skip_notes(snapshot, results.values(), analysed_suffixes())
        loaded = repo_config.load_repo_config(snapshot.config_files)
        skipped += [loaded.note()] if loaded.note() else []
        files = {
            f.path: parse_file_patch(f.path, f.patch, status=str(f.status), previous_path=f.previous_path)
            for f in snapshot.files
        }
        dashboard = dashboard_url(services, review_id)
        llm_used = any(a.mode == "llm" for a in results.values())
        rendered = build_review(
            findings, files, results, review_id=review_id, head_sha=review.head_sha,
            inline_cap=repo_config.inline_cap(loaded.config, services.settings.inline_comment_cap),
            llm_used=llm_used, skipped=skipped,
            dashboard_url=dashboard,
        )
        body = build_summary(
            findings, results, skipped, head_sha=review.head_sha, dashboard_url=dashboard,
            llm_used=llm_used, inline_count=len(rendered.comments),
            resolved=incremental.resolved(scope, all_findings),
            since_sha=scope.since_sha if scope else None,
            already_posted=len(all_findings) - len(findings),
            held_back=len(learning_record(review).get("held_back", [])),
            learning_url=learning_url(services, review.repo),
        )
        host = services.code_host(review.installation_id)
        with connection(host):
            try:
                upsert_summary(host, s, review, body, services.settings.github_bot_login, log)
            except (ReviewPostUncertain, TransientGitHubError) as exc:
                # Safe to retry: the retry looks for the summary (database, then marker) first.
                countdown = getattr(exc, "retry_after", None) or backoff(task.request.retries)
                raise task.retry(exc=exc, countdown=countdown)
            except GitHubError as exc:
                log.warning("summary.not_posted", error=str(exc)[:500])
            complete_check_run(services, host, s, review, findings, results, body, log)


def upsert_summary(host, s, review, body: str, bot_login: str | None, log) -> None:
    """Edit the PR's summary comment, or create it when there is none yet."""
    known = repo.posted_github_id(
        s, review.repo, review.pr_number, PostedKind.SUMMARY, SUMMARY_FINGERPRINT
    )
    if known is not None:
        try:
            host.update_issue_comment(review.repo, known, body)
            log.info("summary.edited", comment_id=known)
            return
        except PermanentGitHubError as exc:
            if exc.status != 404:
                raise
            log.info("summary.gone", comment_id=known)  # deleted by someone: post a new one
    found = next(
        (
            c.id
            for c in host.list_issue_comments(review.repo, review.pr_number)
            if is_summary(c.body) and (bot_login is None or c.author == bot_login) and c.id != known
        ),
        None,
    )
    if found is not None:
        host.update_issue_comment(review.repo, found, body)
        comment_id = found
        log.info("summary.edited", comment_id=found)
    else:
        comment_id = host.create_issue_comment(review.repo, review.pr_number, body)
        log.info("summary.created", comment_id=comment_id)
    if comment_id != known:
        repo.remember_posted_id(
            s, review_id=review.id, repo=review.repo, pr_number=review.pr_number,
            kind=PostedKind.SUMMARY, fingerprint=SUMMARY_FINGERPRINT, github_id=comment_id,
        )


def complete_check_run(services, host, s, review, findings, results, summary: str, log) -> None:
    """The completing PATCH (conclusion + first 50 annotations), then one per further 50.

    Sent once: a row marks the run completed. Failures are logged; the review stands.
    """
    tag = checks.external_id(review.id)
    done_tag = tag + ":completed"
    if repo.posted_github_id(s, review.repo, review.pr_number, PostedKind.CHECK_RUN, done_tag):
        return
    run_id = repo.posted_github_id(s, review.repo, review.pr_number, PostedKind.CHECK_RUN, tag)
    try:
        if run_id is None:
            run_id = host.find_check_run(review.repo, review.head_sha, checks.CHECK_NAME, tag)
        if run_id is None:
            log.info("check_run.missing")
            return
        updates = checks.completion(
            findings, results, fail_severity=Severity(services.settings.check_fail_severity),
            summary=summary.replace(SUMMARY_MARKER_TEXT, "").strip(),
            details_url=dashboard_url(services, review.id),
        )
        for update in updates:
            host.update_check_run(review.repo, run_id, update)
    except Exception as exc:  # noqa: BLE001 - the check run never fails the review
        log.warning("check_run.not_completed", error=f"{type(exc).__name__}: {exc}"[:500])
        return
    repo.record_posted(
        s, review_id=review.id, repo=review.repo, pr_number=review.pr_number,
        kind=PostedKind.CHECK_RUN, fingerprint=done_tag, github_id=run_id,
    )
    log.info("check_run.completed", conclusion=updates[0].conclusion, batches=len(updates))
