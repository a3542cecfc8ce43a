"""Stripe through its Python library: PaymentIntents, refunds and webhook verification.

STRIPE_API_BASE points the client at another API host (localstripe in tests). Every
call that creates something carries an idempotency key derived from our booking id,
so a retried request reuses the first answer instead of charging twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import stripe

from app.config import get_settings
from app.i18n import gettext as _
from app.payments.events import PaymentEvent, PaymentEventKind


class StripeUnavailable(Exception):
    """Stripe is not configured, or did not answer; the member can pay another way."""


class BadWebhook(Exception):
    """The webhook is unsigned, wrongly signed, stale or malformed (HTTP 400)."""


def configured() -> bool:
    return bool(get_settings().stripe_secret_key)


def client() -> stripe.StripeClient:
    settings = get_settings()
    if not settings.stripe_secret_key:
        raise StripeUnavailable(_("card payments are not set up on this Club"))
    base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=base,
        max_network_retries=2,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Intent:
    id: str
    client_secret: str
    status: str
    amount: int
    currency: str


def create_intent(*, booking_id: int, amount: int, currency: str) -> Intent:
    try:
        intent = client().v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": currency.lower(),
                "payment_method_types": ["card"],
                "metadata": {"booking_id": str(booking_id)},
            },
            options={"idempotency_key": f"coopclub-booking-{booking_id}-intent"},
        )
    except stripe.StripeError as exc:
        raise StripeUnavailable(
            _("Stripe did not accept the payment: %(reason)s", reason=exc.user_message or exc)
        ) from exc
    return Intent(
        id=intent.id,
        client_secret=intent.client_secret or "",
        status=intent.status,
        amount=intent.amount,
        currency=intent.currency,
    )


def retrieve_intent(intent_id: str) -> Intent:
    try:
        intent = client().v1.payment_intents.retrieve(intent_id)
    except stripe.StripeError as exc:
        raise StripeUnavailable(str(exc)) from exc
    return Intent(
        id=intent.id,
        client_secret=intent.client_secret or "",
        status=intent.status,
        amount=intent.amount,
        currency=intent.currency,
    )


def refund(*, booking_id: int, intent_id: str) -> tuple[str, str]:
    """Refund a booking's whole payment: (refund id, status)."""
    try:
        result = client().v1.refunds.create(
            params={"payment_intent": intent_id},
            options={"idempotency_key": f"coopclub-booking-{booking_id}-refund"},
        )
    except stripe.StripeError as exc:
        raise StripeUnavailable(
            _("Stripe did not accept the refund: %(reason)s", reason=exc)
        ) from exc
    return result.id, result.status or ""


def verify_event(raw: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if `raw` is signed with our webhook secret within Stripe's tolerance."""
    secret = get_settings().stripe_webhook_secret
    if not secret:
        raise BadWebhook("webhooks are not configured")
    if not signature:
        raise BadWebhook("the Stripe-Signature header is missing")
    try:
        stripe.Webhook.construct_event(raw, signature, secret)
        data = json.loads(raw)
    except stripe.SignatureVerificationError as exc:
        raise BadWebhook("the signature does not match or is too old") from exc
    except ValueError as exc:
        raise BadWebhook("the body is not a Stripe event") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not isinstance(data.get("type"), str)
        or not 0 < len(data["id"]) <= 255
    ):
        raise BadWebhook("the event has no id or type")
    inner = data.get("data")
    if not isinstance(inner, dict) or not isinstance(inner.get("object"), dict):
        raise BadWebhook("the event's data.object is not an object")
    return data


def payment_event(event: dict[str, Any]) -> PaymentEvent | None:
    """What a verified Stripe event means for a payment, or None if it means nothing."""
    kind, obj = event["type"], event["data"]["object"]
    if kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        intent_id = obj.get("id")
        meaning = (
            PaymentEventKind.succeeded
            if kind == "payment_intent.succeeded"
            else PaymentEventKind.failed
        )
    elif kind == "charge.refunded":
        intent_id = obj.get("payment_intent")
        meaning = (
            PaymentEventKind.refunded if obj.get("refunded") else PaymentEventKind.partly_refunded
        )
    else:
        return None
    if not isinstance(intent_id, str) or not intent_id:
        return None
    amount = obj.get("amount")
    if isinstance(amount, str) and amount.isdigit():
        amount = int(amount)  # localstripe writes an updated amount back as a string
    return PaymentEvent(
        kind=meaning,
        intent_id=intent_id,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency=str(obj.get("currency") or "").upper(),
    )
