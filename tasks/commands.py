"""The task that carries out a ``/reviewer`` command from a PR comment, then acknowledges it.

The webhook rules (``reviewer.webhooks.decide_comment``) already checked that the comment is
on a pull request and written by a collaborator; intake sends only those here. State changes
(pause, ignore) are stored before the reaction is sent, so a retried task redoes nothing
harmful: every step is idempotent.
"""

from __future__ import annotations

from celery import shared_task
from pydantic import ValidationError

from reviewer.adapters.github import GitHubError, TransientGitHubError
from reviewer.adapters.storage import ReviewStatus
from reviewer.adapters.storage import repositories as repo
from reviewer.commands import HELP_MARKER, HELP_TEXT, REACTIONS, CommandKind, CommandRequest
from tasks.base import ReviewerTask
from tasks.intake import send
from tasks.publishing import backoff, connection
from tasks.queueing import admit

#: The trigger of a review asked for in full (``/reviewer review``): never incremental.
FULL_REVIEW_TRIGGER = "command.review"
#: Reviews of a head that may be run again by ``/reviewer review`` (they posted nothing).
RERUNNABLE = {ReviewStatus.FAILED, ReviewStatus.CANCELLED}


@shared_task(bind=True, base=ReviewerTask, name="reviewer.handle_command", max_retries=5)
def handle_command(self: ReviewerTask, request: dict) -> dict:
    """Carry out one command and react to its comment."""
    try:
        command = CommandRequest.model_validate(request)
    except ValidationError as exc:
        self.log().warning("command.invalid", error=str(exc)[:500])
        return {"status": "invalid"}
    log = self.log(repo=command.repo, number=command.number, command=str(command.kind))
    services = self.services
    host = services.code_host(command.installation_id)
    outcome = "done"
    try:
        with connection(host):
            if command.kind in (CommandKind.PAUSE, CommandKind.RESUME):
                with services.db.session() as s:
                    repo.set_paused(
                        s, command.repo, command.number, command.kind is CommandKind.PAUSE,
                        by=command.author,
                    )
            elif command.kind is CommandKind.IGNORE:
                with services.db.session() as s:
                    repo.add_ignored(s, command.repo, command.argument or "", by=command.author)
            elif command.kind is CommandKind.HELP:
                _reply_help(host, services, command)
            elif command.kind is CommandKind.REVIEW:
                outcome = _full_review(self, host, command, log)
            host.add_reaction(command.repo, command.comment_id, REACTIONS[command.kind])
    except TransientGitHubError as exc:
        raise self.retry(exc=exc, countdown=exc.retry_after or backoff(self.request.retries))
    except GitHubError as exc:
        log.warning("command.github_error", error=str(exc)[:500])
        return {"status": "failed", "error": str(exc)[:500]}
    log.info("command.done", outcome=outcome, author=command.author)
    return {"status": outcome}


def _reply_help(host, services, command: CommandRequest) -> None:
    """Post the help text once per asking comment (a retry finds its earlier reply)."""
    tag = f"{HELP_MARKER}<!-- reviewer:reply-to {command.comment_id} -->"
    if any(tag in c.body for c in host.list_issue_comments(command.repo, command.number)):
        return
    host.create_issue_comment(command.repo, command.number, f"{tag}\n{HELP_TEXT.removeprefix(HELP_MARKER)}")


def _full_review(task: ReviewerTask, host, command: CommandRequest, log) -> str:
    """A full (not incremental) review of the PR's current head, unless that head already has
    a review that posted or is running: a head is never posted twice."""
    info = host.get_pull_request(command.repo, command.number)
    if info.state != "open":
        return "pull request closed"
    services = task.services
    with services.db.session() as s:
        review, created = repo.get_or_create_review(
            s, source="github", repo=command.repo, pr_number=command.number,
            head_sha=info.head_sha, base_sha=info.base_sha,
            installation_id=command.installation_id, trigger=FULL_REVIEW_TRIGGER,
        )
        review_id = review.id
        if not created and review.status not in RERUNNABLE:
            log.info("command.review_exists", review_id=review_id, status=str(review.status))
            return f"head already reviewed ({review.status})"
        if not created:
            repo.reset_review(s, review_id, trigger=FULL_REVIEW_TRIGGER)
            review = repo.get_review(s, review_id)
        start_now = admit(s, review, log)
    if not start_now:
        return "review waiting for the running one"
    send(services, task.app, delivery_id=None, review_id=review_id, log=log)
    return "review queued"
