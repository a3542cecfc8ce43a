"""One payment interface, three ways to pay: Stripe, invoice, credits.

A provider starts a payment for something payable (a booking) and refunds it the way it
was paid. It reports what happened; the caller moves the booking's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from babel.support import LazyProxy
from sqlmodel import Session

from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.payments import credits, stripe_gateway
from app.payments.models import PaymentMethod
from app.payments.money import format_money


class Payable(Protocol):
    id: int | None
    member_id: int
    amount: int
    currency: str
    payment_intent_id: str | None


@dataclass(frozen=True)
class PaymentStart:
    paid: bool  # paid at once (credits); otherwise a webhook or an admin confirms it
    instructions: str
    intent_id: str | None = None
    client_secret: str | None = None


@dataclass(frozen=True)
class RefundResult:
    done: bool  # refunded now; False: Stripe's charge.refunded webhook completes it
    reference: str | None = None
    instructions: str | LazyProxy = ""  # for the member, in their email's language


class PaymentProvider(Protocol):
    method: PaymentMethod

    def start(self, session: Session, payable: Payable) -> PaymentStart: ...

    def refund(self, session: Session, payable: Payable) -> RefundResult: ...


class StripePayments:
    method = PaymentMethod.stripe

    def start(self, session: Session, payable: Payable) -> PaymentStart:
        intent = stripe_gateway.create_intent(
            booking_id=payable.id or 0, amount=payable.amount, currency=payable.currency
        )
        return PaymentStart(
            paid=False,
            instructions="Pay by card below; the booking is marked paid when Stripe confirms it.",
            intent_id=intent.id,
            client_secret=intent.client_secret,
        )

    def refund(self, session: Session, payable: Payable) -> RefundResult:
        if not payable.payment_intent_id:
            raise stripe_gateway.StripeUnavailable(_("this booking has no card payment to refund"))
        refund_id, _status = stripe_gateway.refund(
            booking_id=payable.id or 0, intent_id=payable.payment_intent_id
        )
        return RefundResult(
            done=False,
            reference=refund_id,
            instructions=lazy_gettext("Stripe returns the money to the card."),
        )


class InvoicePayments:
    method = PaymentMethod.invoice

    def start(self, session: Session, payable: Payable) -> PaymentStart:
        return PaymentStart(
            paid=False,
            instructions=(
                f"We will send an invoice for {format_money(payable.amount, payable.currency)}. "
                "The booking is paid once a Club admin records your payment."
            ),
        )

    def refund(self, session: Session, payable: Payable) -> RefundResult:
        return RefundResult(
            done=True,
            reference=f"invoice-refund-{payable.id}",
            instructions=lazy_gettext("The Club pays an invoiced booking back by bank transfer."),
        )


class CreditPayments:
    method = PaymentMethod.credits

    def start(self, session: Session, payable: Payable) -> PaymentStart:
        credits.spend(
            session,
            member_id=payable.member_id,
            amount=payable.amount,
            reason=f"Booking {payable.id}",
            booking_id=payable.id,
        )
        return PaymentStart(paid=True, instructions="Paid from your co-op's credits.")

    def refund(self, session: Session, payable: Payable) -> RefundResult:
        entry = credits.add(
            session,
            member_id=payable.member_id,
            amount=payable.amount,
            reason=f"Refund of booking {payable.id}",
            booking_id=payable.id,
        )
        return RefundResult(
            done=True,
            reference=f"credit-entry-{entry.id}",
            instructions=lazy_gettext("The credits are back in your co-op's balance."),
        )


PROVIDERS: dict[PaymentMethod, PaymentProvider] = {
    PaymentMethod.stripe: StripePayments(),
    PaymentMethod.invoice: InvoicePayments(),
    PaymentMethod.credits: CreditPayments(),
}


def provider_for(method: PaymentMethod) -> PaymentProvider:
    return PROVIDERS[method]


def available_methods() -> list[PaymentMethod]:
    methods = [PaymentMethod.invoice, PaymentMethod.credits]
    if stripe_gateway.configured():
        methods.insert(0, PaymentMethod.stripe)
    return methods
