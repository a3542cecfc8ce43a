"""VERP return paths: `bounces+<kind><id>-<check>@<bounce domain>` names the message a
bounce is about (a newsletter delivery, or a transactional mail with kind `t`), and the
check (an HMAC under our keys) keeps anyone from forging one to suppress someone else."""

from __future__ import annotations

import hashlib
import hmac

from app.config import Settings, get_settings
from app.mailing.message import sender_domain

KINDS = ("", "t")  # "": a Delivery; "t": a TransactionalEmail


def _mac(key: str, ident: str) -> str:
    derived = hashlib.sha256(("verp:" + key).encode()).digest()
    return hmac.new(derived, ident.encode(), hashlib.sha256).hexdigest()[:16]


def return_path(kind: str, ident: int, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    domain = settings.bounce_domain or sender_domain(settings.mail_from)
    token = f"{kind}{ident}"
    return f"bounces+{token}-{_mac(settings.secret_keys[-1], token)}@{domain}"


def parse(address: str, settings: Settings | None = None) -> tuple[str, int] | None:
    """(kind, id) of a return path we made, signed with any of our keys; else None."""
    settings = settings or get_settings()
    local = address.strip("<>").rpartition("@")[0].lower()
    if not local.startswith("bounces+"):
        return None
    token, _, check = local.removeprefix("bounces+").partition("-")
    kind = token.rstrip("0123456789")
    ident = token[len(kind) :]
    if kind not in KINDS or not ident.isdigit():
        return None
    if any(hmac.compare_digest(_mac(key, token), check) for key in settings.secret_keys):
        return kind, int(ident)
    return None
