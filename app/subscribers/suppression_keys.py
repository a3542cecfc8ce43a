"""The keys of address HMACs (suppressions, subscribers, recruit credits).

Every HMAC is made with COOPCLUB_SUPPRESSION_PEPPER, a secret of its own that never
changes: rotating or removing signing keys cannot lift a suppression.

Before that setting, the pepper was derived from the signing keys
(HMAC(key, "coopclub.suppression-pepper.v1"), new entries under the first key). Those
legacy peppers are still tried, so old suppressions keep matching, and a match re-keys
the row under the pepper. So that removing the old signing key later lifts nothing,
each legacy pepper is kept in the database sealed under the pepper (`capture_legacy`,
run by `coopclub db upgrade` and on first use); a backup holds it only sealed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

from cryptography.fernet import Fernet
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.config import get_settings
from app.subscribers.models import LegacyPepper, Suppression

LEGACY_LABEL = b"coopclub.suppression-pepper.v1"
SEAL_LABEL = b"coopclub.legacy-pepper-seal.v1"

_unsealed: dict[str, bytes] = {}  # digest -> legacy pepper, from the table (append-only)
_lock = threading.Lock()


def _pepper() -> bytes:
    pepper = get_settings().suppression_pepper
    assert pepper, "load_settings always sets the pepper"
    return pepper.encode()


def address_hmac(address: str) -> str:
    """HMAC(pepper, normalised address): what a new row stores."""
    return hmac.new(_pepper(), address.encode(), hashlib.sha256).hexdigest()


def _derived_legacy_peppers() -> list[bytes]:
    return [
        hmac.new(key.encode(), LEGACY_LABEL, hashlib.sha256).digest()
        for key in get_settings().secret_keys
    ]


def _fernet() -> Fernet:
    key = hmac.new(_pepper(), SEAL_LABEL, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _digest(legacy: bytes) -> str:
    return hmac.new(_pepper(), legacy, hashlib.sha256).hexdigest()


_PEPPERS_READ = "coopclub.legacy_peppers_read"


def capture_legacy(session: Session) -> int:
    """Seal each legacy pepper the current signing keys derive, if not already kept.
    Returns how many were added."""
    added = 0
    kept = _kept_legacy_peppers(session)
    for legacy in _derived_legacy_peppers():
        digest = _digest(legacy)
        if digest in kept:
            continue
        try:
            with session.begin_nested():
                session.add(LegacyPepper(digest=digest, sealed=_fernet().encrypt(legacy).decode()))
            added += 1
        except IntegrityError:
            pass  # another process sealed it at the same moment
        with _lock:
            _unsealed[digest] = legacy
    return added


def _kept_legacy_peppers(session: Session) -> dict[str, bytes]:
    # Looked up once per transaction (a batch of signups checks many addresses).
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_PEPPERS_READ) is transaction:
        with _lock:
            return dict(_unsealed)
    with _lock:
        known = set(_unsealed)
    rows = session.exec(
        select(LegacyPepper).where(col(LegacyPepper.digest).not_in(known) if known else True)
    ).all()
    session.info[_PEPPERS_READ] = session.get_transaction()
    with _lock:
        for row in rows:
            _unsealed[row.digest] = _fernet().decrypt(row.sealed.encode())
        return dict(_unsealed)


def legacy_hmacs(session: Session, address: str) -> list[str]:
    """The address's HMAC under every legacy pepper (kept or derived from today's keys)."""
    peppers = set(_kept_legacy_peppers(session).values()) | set(_derived_legacy_peppers())
    return [hmac.new(p, address.encode(), hashlib.sha256).hexdigest() for p in peppers]


def find_suppression(session: Session, address: str) -> Suppression | None:
    """The address's suppression under the pepper or a legacy one; a legacy match is
    re-keyed under the pepper. (Subscriber rows are re-keyed by `coopclub db upgrade`.)"""
    return suppressions_of(session, [address]).get(address)


def suppressions_of(session: Session, addresses: list[str]) -> dict[str, Suppression]:
    """The suppression of each of many normalised addresses that has one, in one query
    (legacy peppers included); a legacy match is re-keyed under the pepper."""
    peppers = set(_kept_legacy_peppers(session).values()) | set(_derived_legacy_peppers())
    owner: dict[str, str] = {}
    current: set[str] = set()
    for address in addresses:
        key = address_hmac(address)
        current.add(key)
        for pepper in peppers:
            owner[hmac.new(pepper, address.encode(), hashlib.sha256).hexdigest()] = address
        owner[key] = address
    found: dict[str, Suppression] = {}
    keys = list(owner)
    for start in range(0, len(keys), 1000):
        for row in session.exec(
            select(Suppression).where(col(Suppression.address_hmac).in_(keys[start : start + 1000]))
        ).all():
            address = owner[row.address_hmac]
            if address not in found or row.address_hmac in current:  # the pepper's row first
                found[address] = row
    legacy = {a: row for a, row in found.items() if row.address_hmac not in current}
    if legacy:
        capture_legacy(session)
        for address, row in legacy.items():
            row.address_hmac = address_hmac(address)
        session.flush()
    return found
