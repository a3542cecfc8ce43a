"""DMARC alignment: mail may only be sent From a domain the Club signs for (DKIM `d=`
the same domain or a parent of it), or receivers' DMARC checks fail it."""

from __future__ import annotations

from app.config import Settings
from app.mailing.message import sender_domain


def allowed_sender_domains(settings: Settings) -> list[str]:
    """The signing domains; with none configured (no DKIM at all, the embedded
    default), MAIL_FROM's domain, so nothing else drifts from it."""
    domains = [entry.domain for entry in settings.signing_domains]
    return domains or [sender_domain(settings.mail_from).lower()]


def is_aligned(domain: str, settings: Settings) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in allowed_sender_domains(settings))


def alignment_problem(address: str, settings: Settings) -> str | None:
    """Why mail From `address` would fail DMARC, in words for the person setting it."""
    domain = address.rpartition("@")[2].lower()
    if not domain or is_aligned(domain, settings):
        return None
    allowed = " or ".join(allowed_sender_domains(settings))
    return (
        f"the Club does not sign mail for {domain}, so inboxes would distrust it (DMARC): "
        f"use an address on {allowed}, or have the Club's operators add {domain} to "
        "COOPCLUB_DKIM_KEYS and publish its DNS records first"
    )
