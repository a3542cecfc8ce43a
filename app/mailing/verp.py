"""VERP return paths: every message's envelope sender names the message, so a bounce
to it says which delivery (or transactional email) failed, and cannot be forged to
make us suppress someone else.

    bounces+<delivery id>-<check>@domain      a newsletter delivery
    bounces+t<email id>-<check>@domain        a transactional email
"""

from __future__ import annotations

import hashlib
import hmac

from app.config import Settings, get_settings
from app.mailing.message import sender_domain


def _verp_mac(key: str, ident: str) -> str:
    derived = hashlib.sha256(("verp:" + key).encode()).digest()
    return hmac.new(derived, ident.encode(), hashlib.sha256).hexdigest()[:16]


def _address(ident: str, settings: Settings) -> str:
    domain = settings.bounce_domain or sender_domain(settings.mail_from)
    return f"bounces+{ident}-{_verp_mac(settings.secret_keys[-1], ident)}@{domain}"


def verp_address(delivery_id: int, settings: Settings) -> str:
    return _address(str(delivery_id), settings)


def transactional_verp_address(email_id: int, settings: Settings) -> str:
    return _address(f"t{email_id}", settings)


def verp_check(delivery_id: int, settings: Settings) -> str:
    return _verp_mac(settings.secret_keys[-1], str(delivery_id))


def _ident_from_verp(address: str, settings: Settings | None) -> str | None:
    settings = settings or get_settings()
    local = address.strip("<>").rpartition("@")[0].lower()
    if not local.startswith("bounces+"):
        return None
    ident, _, check = local.removeprefix("bounces+").partition("-")
    if any(hmac.compare_digest(_verp_mac(key, ident), check) for key in settings.secret_keys):
        return ident
    return None


def delivery_from_verp(address: str, settings: Settings | None = None) -> int | None:
    """The delivery id in a VERP address we made (signed with any of our keys), or None
    for anything else."""
    ident = _ident_from_verp(address, settings)
    return int(ident) if ident and ident.isdigit() else None


def transactional_from_verp(address: str, settings: Settings | None = None) -> int | None:
    """The transactional email id in a VERP address we made, or None."""
    ident = _ident_from_verp(address, settings)
    if ident and ident.startswith("t") and ident[1:].isdigit():
        return int(ident[1:])
    return None


def return_path(kind: str, ident: int, settings: Settings | None = None) -> str:
    """The return path of a delivery (kind "") or a transactional email (kind "t")."""
    return _address(f"{kind}{ident}", settings or get_settings())


def parse(address: str, settings: Settings | None = None) -> tuple[str, int] | None:
    """(kind, id) of a return path we made, signed with any of our keys; else None."""
    ident = _ident_from_verp(address, settings)
    if ident is None:
        return None
    kind = ident.rstrip("0123456789")
    number = ident[len(kind) :]
    if kind not in ("", "t") or not number.isdigit():
        return None
    return kind, int(number)
