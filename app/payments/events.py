"""Payment events in the payments domain's own words, and the one door they leave by.

A verified Stripe event becomes a `PaymentEvent` (succeeded, failed, refunded). Whatever
is being paid for (a booking) registers one handler with `on_payment_event`; the webhook
delivers each event to it in the transaction that stores the event. So payments never
import the domains that use them, and bookings change only through their state machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session


class PaymentEventKind(StrEnum):
    succeeded = "succeeded"  # the whole amount was taken
    failed = "failed"  # an attempt failed; the payer may try again
    refunded = "refunded"  # the whole payment went back
    partly_refunded = "partly_refunded"  # some of it went back (done by hand in Stripe)


@dataclass(frozen=True)
class PaymentEvent:
    kind: PaymentEventKind
    intent_id: str  # the payment this is about (Stripe's PaymentIntent id)
    amount: int | None = None  # minor units
    currency: str = ""  # upper case, e.g. "CAD"


PaymentHandler = Callable[[Session, PaymentEvent], str]
_handlers: list[PaymentHandler] = []


def on_payment_event(handler: PaymentHandler) -> PaymentHandler:
    """Register the handler that applies payment events (returns what it did, in words)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def deliver(session: Session, event: PaymentEvent) -> str:
    if not _handlers:
        # Never store an event without its effect: failing makes Stripe send it again.
        raise RuntimeError("no payment event handler is registered (import the app first)")
    return "; ".join(handler(session, event) for handler in _handlers)
