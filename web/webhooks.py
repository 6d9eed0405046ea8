"""``POST /webhooks/github``: verify, record, enqueue, answer — in milliseconds."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import structlog
from flask import Blueprint, jsonify, request

from reviewer.webhooks import DecisionKind, PayloadError, decide, verify_signature
from tasks.intake import BrokerUnavailable, Outcome, accept_delivery
from web.app import context

webhooks = Blueprint("webhooks", __name__)
log = structlog.get_logger("reviewer.web.webhooks")


def _problem(status: int, detail: str):
    return jsonify(error=detail), status


@webhooks.post("/webhooks/github")
def github_webhook():
    ctx = context()
    body = request.get_data(cache=False)  # raw bytes: the signature covers them exactly
    secret = ctx.settings.github_webhook_secret
    if secret is None:
        return _problem(401, "signature cannot be verified: no webhook secret is configured")
    if not verify_signature(
        secret.get_secret_value().encode(), body, request.headers.get("X-Hub-Signature-256")
    ):
        log.warning("webhook.bad_signature", delivery_id=request.headers.get("X-GitHub-Delivery"))
        return _problem(401, "invalid or missing X-Hub-Signature-256")

    event = request.headers.get("X-GitHub-Event")
    delivery_id = request.headers.get("X-GitHub-Delivery")
    if not event or not delivery_id:
        return _problem(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    if len(delivery_id) > 100:
        return _problem(400, "X-GitHub-Delivery is too long")
    try:
        payload = _parse_payload(body, request.mimetype)
    except ValueError as exc:
        return _problem(400, f"malformed payload: {exc}")

    try:
        decision = decide(
            event, payload, bot_login=ctx.settings.github_bot_login,
            classify_replies=ctx.settings.llm_enabled,
        )
    except PayloadError as exc:
        return _problem(400, f"unexpected {event} payload: {exc}")
    if decision.kind == DecisionKind.PONG:
        return jsonify(status="pong"), 200

    try:
        result = accept_delivery(
            ctx.services, ctx.celery, delivery_id=delivery_id, event=event, decision=decision
        )
    except BrokerUnavailable:
        return jsonify(
            error="the queue is unavailable; the delivery is stored and will be sent later",
            delivery_id=delivery_id,
        ), 503
    status = 202 if result.outcome == Outcome.ENQUEUED else 200
    return jsonify(
        status=str(result.outcome), review_id=result.review_id, reason=result.reason
    ), status


def _parse_payload(body: bytes, mimetype: str) -> dict:
    """GitHub sends JSON, or a form with a ``payload`` field when so configured."""
    if mimetype == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8", errors="strict"))
        if "payload" not in fields:
            raise ValueError("form body without a payload field")
        body = fields["payload"][0].encode()
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a JSON object")  # noqa: TRY004 - the caller answers 400 on ValueError
    return payload
