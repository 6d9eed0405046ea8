"""The review canvas' tasks. Thin: validate the payload, call the domain, store, return.

Every task is idempotent (delivery is at least once): a snapshot, an agent result and a
posted review are each stored once and looked up before any work is redone.
"""

from __future__ import annotations

import time

from celery import shared_task
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from pydantic import ValidationError
from redis.exceptions import RedisError

from reviewer import checks, incremental, repo_config
from reviewer.adapters.github import (
    GitHubError,
    PermanentGitHubError,
    ReviewPostUncertain,
    ReviewRejected,
    TransientGitHubError,
)
from reviewer.adapters.storage import ReviewStatus, review_queue
from reviewer.adapters.storage import repositories as repo
from reviewer.agents.registry import analysed_suffixes
from reviewer.collect import collect_snapshot
from reviewer.diff import parse_file_patch
from reviewer.merge import complete_results, merge_findings, review_skip_notes
from reviewer.payloads import AgentResult, AgentStatus, ReviewRef
from reviewer.render import build_review, review_marker
from tasks.base import ReviewerTask
from tasks.canvas import review_tail
from tasks.fixing import FIXES_STEP, with_fixes
from tasks.learning import apply as apply_learning
from tasks.learning import few_shot as few_shot_examples
from tasks.metrics import observe_review_posted
from tasks.publishing import (
    FINISHED,
    backoff,
    check_run,
    connection,
    publish_summary_and_check,
    report_progress,
)
from tasks.queueing import hand_over, stop_if_superseded
from tasks.rereview import plan_incremental, previous_review

GITHUB_RETRIES = 5


@shared_task(bind=True, base=ReviewerTask, name="reviewer.prepare", max_retries=GITHUB_RETRIES)
def prepare(self: ReviewerTask, review_id: int) -> dict:
    """Fetch the PR once and store its snapshot; hand the agents a small ReviewRef."""
    log = self.log(review_id=review_id)
    db = self.services.db
    with db.session() as s:
        review = repo.get_review(s, review_id)
        if review is None:
            log.warning("review.missing")
            raise Ignore()
        if review.status in FINISHED or review.status == ReviewStatus.WAITING:
            # a waiting review is dispatched by the hand-over, never by a stray message
            log.info("review.not_runnable", status=str(review.status))
            raise Ignore()
        snapshot = repo.load_snapshot(s, review_id)
        source, repo_name, number = review.source, review.repo, review.pr_number
        head_sha, installation_id = review.head_sha, review.installation_id
        previous = previous_review(s, review) if snapshot is None and source == "github" else None
    if source == "github":
        if stop_if_superseded(self.services, self.app, review_id, log):
            raise Ignore()
        check_run(self.services, review_id, log, [], create=True)

    if snapshot is None:
        if source != "github":
            raise RuntimeError(f"review {review_id} has no snapshot to work on")
        host = self.services.code_host(installation_id)
        scope = None
        try:
            with connection(host):
                info = host.get_pull_request(repo_name, number)
                if info.state == "open" and not (head_sha and info.head_sha != head_sha):
                    snapshot = collect_snapshot(host, info)
                    scope = plan_incremental(host, info, previous, log)
            if info.state != "open" or (head_sha and info.head_sha != head_sha):
                reason = "pull request closed" if info.state != "open" else (
                    f"superseded: the head moved to {info.head_sha[:12]}"
                )
                with db.session() as s:
                    repo.set_review_status(s, review_id, ReviewStatus.CANCELLED, error=reason)
                check_run(self.services, review_id, log, [checks.cancelled(reason)])
                log.info("review.cancelled", reason=reason)
                hand_over(self.services, self.app, review_id, log)
                raise Ignore()
        except TransientGitHubError as exc:
            raise self.retry(exc=exc, countdown=exc.retry_after or backoff(self.request.retries))
        snapshot = repo_config.filter_snapshot(
            snapshot, repo_config.load_repo_config(snapshot.config_files).config
        )
        if scope is not None:
            snapshot = incremental.restrict(snapshot, scope)
            log.info("review.incremental", since=scope.since_sha[:12], files=len(snapshot.files))
        with db.session() as s:
            repo.save_snapshot(s, review_id, snapshot)
            repo.save_incremental(s, review_id, scope.model_dump(mode="json") if scope else None)
    with db.session() as s:
        current = repo.lock_review(s, review_id)
        if current is None or current.status in FINISHED:  # replaced or closed meanwhile
            raise Ignore()
        repo.set_review_status(s, review_id, ReviewStatus.RUNNING)
    if source == "github":
        check_run(self.services, review_id, log, [checks.progress({})])
    ref = ReviewRef(review_id=review_id, head_sha=snapshot.head_sha, files=len(snapshot.files))
    review_tail(self.app, ref).apply_async()
    log.info("review.prepared", files=len(snapshot.files))
    return ref.model_dump()


class WorkerLostTooOften(RuntimeError):
    """An agent's message came back more often than ``REVIEWER_MAX_DISPATCH_ATTEMPTS``."""


def _count_start(task: ReviewerTask, review_id: int, agent: str) -> int | None:
    """How many times this agent has started for this review, across all workers (Redis).

    None where nothing can redeliver (the CLI's in-process memory transport) or when Redis
    does not answer — then the agent simply runs.
    """
    if str(task.app.conf.broker_url).startswith("memory"):
        return None
    key = f"reviewer:agent-starts:{review_id}:{agent}"
    try:
        client = task.services.redis
        starts = int(client.incr(key))
        client.expire(key, task.services.settings.visibility_timeout_s * 4)
    except RedisError:
        return None
    return starts


@shared_task(bind=True, base=ReviewerTask, name="reviewer.run_agent")
def run_agent(self: ReviewerTask, ref: dict, *, agent: str, review_id: int) -> dict:
    """Run one agent. Never raises into the chord: failure and timeout are results."""
    log = self.log(review_id=review_id, agent=agent)
    started = time.monotonic()
    db = self.services.db
    try:
        ReviewRef.model_validate(ref)
        with db.session() as s:
            done = repo.load_agent_results(s, review_id).get(agent)
            snapshot = repo.load_snapshot(s, review_id) if done is None else None
            review_row = repo.get_review(s, review_id) if done is None else None
            scope = review_row.incremental if review_row is not None else None
            newer = review_queue.newer_waiting(s, review_row) if review_row is not None else None
        if done is not None and done.status == AgentStatus.OK:
            log.info("agent.reused")
            return done.model_dump(mode="json")
        if review_row is not None and (review_row.status == ReviewStatus.CANCELLED or newer is not None):
            # Cancelled (the PR closed), or a newer push's review waits: the chord callback's
            # checkpoint will stop this review and hand over, so it posts nothing; an agent
            # that has not started yet spends nothing on it.
            why = "review cancelled" if newer is None else f"superseded by the review of {newer.head_sha[:12]}"
            log.info("agent.skipped", reason=why)
            return AgentResult(agent=agent, status=AgentStatus.SKIPPED, error=f"{why}; not run").model_dump(
                mode="json"
            )
        if snapshot is None:
            raise RuntimeError("the review's snapshot is missing")
        starts = _count_start(self, review_id, agent)
        limit = self.services.settings.max_dispatch_attempts
        if starts is not None and starts > limit:
            # task_reject_on_worker_lost gives the message back each time its worker dies;
            # a message that kills every worker it reaches would loop forever. Bounded here.
            raise WorkerLostTooOften(
                f"the worker running this agent died {starts - 1} times; gave up"
            )
        result = self.services.run_agent(agent, snapshot)
        llm = self.services.llm
        if llm is not None and result.status == AgentStatus.OK:
            # Never raises: a provider failure or an open breaker leaves the static result,
            # with mode "static (llm unavailable)" and the reason in ``error``.
            result = llm.augment(
                agent, snapshot, result, review_key=str(review_id),
                examples=few_shot_examples(self.services, snapshot, agent, log, result.findings),
                # a re-review sends only code the push changed (agents may share a request)
                rereview=llm.rereview(scope, review_key=str(review_id)),
            )
            log.info("agent.llm", mode=result.mode, tokens=result.tokens, cost_usd=result.cost_usd)
    except SoftTimeLimitExceeded:
        result = AgentResult(
            agent=agent,
            status=AgentStatus.TIMEOUT,
            error=f"stopped at the {self.services.settings.agent_soft_time_limit_s:g}s time limit",
        )
    except Exception as exc:  # an agent's failure is reported in the review, not raised
        log.exception("agent.failed")
        result = AgentResult(agent=agent, status=AgentStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
    result.duration_s = round(time.monotonic() - started, 4)
    try:
        with db.session() as s:
            repo.save_agent_result(s, review_id, result)
    except Exception:
        log.exception("agent.result_not_stored")
    report_progress(self.services, review_id, log)
    log.info("agent.finished", status=str(result.status), findings=len(result.findings))
    return result.model_dump(mode="json")


@shared_task(bind=True, base=ReviewerTask, name="reviewer.generate_fixes")
def generate_fixes(self: ReviewerTask, results: list, *, review_id: int) -> dict:
    """The chord callback: validate what the agents returned, merge, fix, store the findings.

    The LLM fixes' calls happen outside any transaction; a redelivery after the findings were
    stored with a ``fixes`` step does not pay for them again.
    """
    log = self.log(review_id=review_id)
    if stop_if_superseded(self.services, self.app, review_id, log):  # before paying for fixes
        return {"review_id": review_id, "findings": 0, "status": "cancelled"}
    received = []
    for raw in results or []:
        try:
            received.append(AgentResult.model_validate(raw))
        except ValidationError as exc:
            log.warning("agent.result_invalid", error=str(exc)[:500])
    with self.services.db.session() as s:
        stored = repo.load_agent_results(s, review_id)
        if FIXES_STEP in stored:
            count = len(repo.load_findings(s, review_id))
            log.info("review.merged_already", findings=count)
            return {"review_id": review_id, "findings": count}
        complete = complete_results(received, stored)
        findings = merge_findings(complete.values())
        snapshot = repo.load_snapshot(s, review_id)
        review = repo.get_review(s, review_id)
        ignored = repo.ignored_values(s, review.repo) if review is not None else set()
        config = repo_config.load_repo_config(snapshot.config_files if snapshot else {}).config
        kept = repo_config.apply_to_findings(findings, config, ignored=ignored)
        if len(kept) != len(findings):
            log.info("findings.suppressed", by_config_or_ignore=len(findings) - len(kept))
        kept = apply_learning(self.services, s, review, snapshot, kept, config, log)
        # reported by an earlier review: not posted again, so not worth an LLM fix again
        posted = (repo.reported_fingerprints(s, review.repo, review.pr_number, excluding_review=review_id)
                  if review is not None else set())
    findings, fixes_step = with_fixes(kept, snapshot, self.services, review_id=review_id, log=log, posted=posted)
    with self.services.db.session() as s:
        repo.save_findings(s, review_id, findings)
        for result in complete.values():
            if result.agent not in stored:
                repo.save_agent_result(s, review_id, result)
        if fixes_step is not None:
            repo.save_agent_result(s, review_id, fixes_step)
    log.info("review.merged", findings=len(findings))
    return {"review_id": review_id, "findings": len(findings)}


@shared_task(bind=True, base=ReviewerTask, name="reviewer.post_review", max_retries=GITHUB_RETRIES)
def post_review(self: ReviewerTask, _merged: dict | None = None, *, review_id: int) -> dict:
    """Post ONE review. The row lock and the hidden marker make a second post impossible."""
    log = self.log(review_id=review_id)
    services = self.services
    with services.db.session() as s:
        current = repo.get_review(s, review_id)
        republish = current is not None and current.status == ReviewStatus.POSTED
        republish = republish and current.source == "github"
    if republish:  # posted already (a redelivery): nothing is posted again; the summary is edited
        publish_summary_and_check(self, review_id, log)
        hand_over(services, self.app, review_id, log)
        return {"review_id": review_id, "status": "posted", "github_review_id": current.github_review_id}
    stop_if_superseded(services, self.app, review_id, log)  # then it is cancelled, below
    with services.db.session() as s:
        review = repo.lock_review(s, review_id)
        if review is None or review.status in FINISHED:
            status = str(review.status) if review else "missing"
            cancelled = review is not None and review.status == ReviewStatus.CANCELLED
            reason = (review.error or "cancelled") if review is not None else ""
        else:
            status = None
    if status is not None:
        if cancelled:  # superseded or closed while running: its check run says so, nothing posts
            check_run(services, review_id, log, [checks.cancelled(reason)])
        hand_over(services, self.app, review_id, log)
        return {"review_id": review_id, "status": status}
    with services.db.session() as s:
        review = repo.lock_review(s, review_id)
        if review is None or review.status in FINISHED:  # changed in between: nothing to do
            return {"review_id": review_id, "status": str(review.status) if review else "missing"}
        results = repo.load_agent_results(s, review_id)
        findings = repo.load_findings(s, review_id)
        snapshot = repo.load_snapshot(s, review_id)
        skipped = review_skip_notes(snapshot, results.values(), analysed_suffixes())
        loaded = repo_config.load_repo_config(snapshot.config_files)
        skipped += [loaded.note()] if loaded.note() else []
        summary = {
            "findings": len(findings),
            "agents": {name: str(r.status) for name, r in results.items()},
            "skipped": len(skipped),
        }
        repo.save_summary(s, review_id, summary)
        if review.source != "github":
            repo.set_review_status(s, review_id, ReviewStatus.COMPLETED)
            return {"review_id": review_id, "status": "completed"}
        # One poster per PR at a time; a finding an earlier review reported (inline or in its
        # body) is never posted again.
        repo.lock_pull_request(s, review.repo, review.pr_number)
        posted = repo.reported_fingerprints(s, review.repo, review.pr_number, excluding_review=review_id)
        findings = incremental.fresh(findings, posted)

        files = {
            f.path: parse_file_patch(f.path, f.patch, status=str(f.status), previous_path=f.previous_path)
            for f in snapshot.files
        }
        marker = review_marker(review_id, review.head_sha)
        host = services.code_host(review.installation_id)

        def render(inline_cap: int | None):
            if inline_cap is None:
                inline_cap = repo_config.inline_cap(loaded.config, services.settings.inline_comment_cap)
            return build_review(
                findings,
                files,
                results,
                review_id=review_id,
                head_sha=review.head_sha,
                inline_cap=inline_cap,
                llm_used=any(r.mode == "llm" for r in results.values()),
                skipped=skipped,
                dashboard_url=f"{services.settings.public_url.rstrip('/')}/dashboard/reviews/{review_id}",
            )

        try:
            with connection(host):
                github_id, rendered = _post_once(host, review, marker, render, log)
        except (ReviewPostUncertain, TransientGitHubError) as exc:
            # Never blindly retried: the retry starts by looking for the marker.
            countdown = getattr(exc, "retry_after", None) or backoff(self.request.retries)
            raise self.retry(exc=exc, countdown=countdown)
        except PermanentGitHubError:
            raise
        except GitHubError as exc:
            raise self.retry(exc=exc, countdown=backoff(self.request.retries))

        repo.record_posted(
            s, review_id=review_id, repo=review.repo, pr_number=review.pr_number,
            kind="review", fingerprint=marker, github_id=github_id,
        )
        for finding_fp, comment in _comment_fingerprints(rendered.comments):
            repo.record_posted(
                s, review_id=review_id, repo=review.repo, pr_number=review.pr_number,
                kind="inline", fingerprint=finding_fp, path=comment.path, line=comment.line,
            )
        for finding in rendered.body_findings:  # listed in the body: reported, not posted again
            if finding.fingerprint:
                repo.record_posted(
                    s, review_id=review_id, repo=review.repo, pr_number=review.pr_number,
                    kind="body", fingerprint=finding.fingerprint, path=finding.path, line=finding.line,
                )
        review.github_review_id = github_id
        repo.set_review_status(s, review_id, ReviewStatus.POSTED)
        observe_review_posted(review.created_at, results.values())
    log.info("review.posted", github_review_id=github_id, comments=len(rendered.comments))
    publish_summary_and_check(self, review_id, log)
    hand_over(services, self.app, review_id, log)
    return {"review_id": review_id, "status": "posted", "github_review_id": github_id}


def _post_once(host, review, marker: str, render, log):
    """The review's id on GitHub: found by its marker, or created now (once).

    If GitHub refuses an anchor we validated, everything goes in the body instead, rather
    than losing the review.
    """
    rendered = render(None)
    github_id = host.find_review_with_marker(review.repo, review.pr_number, marker)
    if github_id is not None:
        log.info("review.found_already_posted", github_review_id=github_id)
        return github_id, rendered
    try:
        github_id = host.create_review(
            review.repo, review.pr_number, commit_id=review.head_sha,
            body=rendered.body, comments=rendered.comments,
        )
    except ReviewRejected as exc:
        log.warning("review.anchors_rejected", error=str(exc)[:500])
        rendered = render(0)
        github_id = host.create_review(
            review.repo, review.pr_number, commit_id=review.head_sha, body=rendered.body, comments=[],
        )
    return github_id, rendered


def _comment_fingerprints(comments):
    from reviewer.render import fingerprint_of_comment

    for comment in comments:
        fp = fingerprint_of_comment(comment.body)
        if fp:
            yield fp, comment


@shared_task(bind=True, base=ReviewerTask, name="reviewer.mark_review_failed")
def mark_review_failed(self: ReviewerTask, *args, review_id: int | None = None) -> None:
    """Errback of the canvas: the review is marked failed with the error, never left hanging.

    Celery calls errbacks as ``(request, exc, traceback)``; the review id comes bound.
    """
    error = next((f"{type(a).__name__}: {a}" for a in args if isinstance(a, BaseException)), "task failed")
    with self.services.db.session() as s:
        review = repo.get_review(s, review_id)
        if review is not None and review.status not in FINISHED:
            repo.set_review_status(s, review_id, ReviewStatus.FAILED, error=error[:2000])
    log = self.log(review_id=review_id)
    log.error("review.failed", error=error[:500])
    hand_over(self.services, self.app, review_id, log)
