"""Consent receipts: a signed JSON record of one confirmation, after Kantara CR v1.1.

A receipt is built from the ledger alone (events, consent texts, topics), so it holds
no address: the person is named by their opaque subscriber key. Each consent it lists
carries its place in the public consent log (leaf, inclusion proof, signed checkpoint),
and the whole receipt is signed with the log's Ed25519 key, so anyone holding the public
key verifies it offline (`coopclub consent verify-receipt`, app.consent.logverify).
Receipts issued before the log existed carry an itsdangerous signature instead; the
Club still verifies those (`verify_receipt`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from sqlmodel import Session, col, select

from app import i18n, signing
from app.config import get_settings
from app.consent import log as consent_log
from app.consent.logverify import (
    LogVerificationError,
    leaf_hash,
    receipt_signing_bytes,
    verify_consistency,
)
from app.consent.logverify import verify_receipt as verify_receipt_offline
from app.consent.merkle import inclusion_proof
from app.consent.models import ConsentAction, ConsentEvent, ConsentScope, ConsentText
from app.consent.service import _timestamp
from app.members.models import Member
from app.subscribers.models import Topic

RECEIPT_VERSION = "KI-CR-v1.1.0"
JURISDICTION = "CA"  # the Club is a Canadian co-operative (PIPEDA, CASL); GDPR applies too


class ReceiptNotFound(Exception):
    """The link names events that are not (or no longer) confirmations in the ledger."""


class ReceiptNotReady(Exception):
    """The confirmation is recorded but not yet sealed into the log (a second or so)."""


def download_token(event_ids: list[int]) -> str:
    return signing.sign(signing.Purpose.receipt, {"k": "download", "e": event_ids})


def event_ids_from_token(token: str) -> list[int]:
    payload = signing.unsign(signing.Purpose.receipt, token)
    if not isinstance(payload, dict) or payload.get("k") != "download":
        raise signing.InvalidToken("this link is not valid")
    ids = payload.get("e")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise signing.InvalidToken("this link is not valid")
    return ids


def _canonical_digest(receipt: dict[str, Any]) -> str:
    body = {k: v for k, v in receipt.items() if k != "signature"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _purpose(topic: Topic | None, sharing: bool, consent_text: ConsentText | None) -> str:
    """What the consent is for, in the language of the words the person agreed to."""
    with i18n.using(consent_text.language if consent_text else None):
        if sharing and topic:
            return i18n.gettext(
                "Offers from other member co-ops on the topic “%(topic)s”, sent by the Club "
                "(the member co-ops never see the address)",
                topic=topic.name,
            )
        if topic:
            return i18n.gettext("Newsletters on the topic “%(topic)s”", topic=topic.name)
        return i18n.gettext("Sponsored content in the Club's newsletters")


def build_receipt(session: Session, event_ids: list[int]) -> dict[str, Any]:
    events = session.exec(
        select(ConsentEvent)
        .where(col(ConsentEvent.id).in_(event_ids))
        .where(ConsentEvent.action == ConsentAction.confirmed)
        .order_by(col(ConsentEvent.id))
    ).all()
    if not events or len(events) != len(set(event_ids)):
        raise ReceiptNotFound("no such consent")
    positions = consent_log.log_positions(session, [e.id for e in events if e.id])
    checkpoint = consent_log.latest_checkpoint(session)
    if len(positions) != len(events) or checkpoint is None:
        raise ReceiptNotReady("the confirmation is being sealed into the consent log")
    reader = consent_log.NodeReader(session)
    settings = get_settings()
    purposes = []
    for event in events:
        index = positions[event.id]  # type: ignore[index]
        proof = inclusion_proof(index, checkpoint.size, reader)
        topic = session.get(Topic, event.topic_id) if event.topic_id else None
        consent_text = session.get(ConsentText, event.consent_text_id)
        member = session.get(Member, event.member_id) if event.member_id else None
        sharing = event.scope == ConsentScope.sharing
        purposes.append(
            {
                "purpose": _purpose(topic, sharing, consent_text),
                "purposeCategory": ["direct marketing by email"],
                "consentType": "EXPLICIT",
                "piiCategory": ["email address", "first name (if given)"],
                "primaryPurpose": not sharing,
                "termination": "until withdrawn, from the link in every email",
                # Sharing lets member co-ops send offers through the Club; the address
                # itself is never disclosed to them.
                "thirdPartyDisclosure": False,
                "thirdPartyName": None,
                "topic": topic.slug if topic else None,
                "scope": str(event.scope),
                "collectedFor": member.slug if member else None,
                "consentTextVersion": consent_text.version if consent_text else None,
                "consentTextLanguage": consent_text.language if consent_text else None,
                "consentTextDigest": consent_text.digest if consent_text else None,
                "consentText": consent_text.body if consent_text else None,
                "log": {
                    "index": index,
                    "leaf": base64.b64encode(consent_log.leaf_bytes(event)).decode(),
                    "inclusionProof": [base64.b64encode(h).decode() for h in proof],
                    "checkpoint": checkpoint.note,
                },
            }
        )
    first = events[0]
    receipt: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "jurisdiction": JURISDICTION,
        "consentTimestamp": _timestamp(first.occurred_at),
        "collectionMethod": f"double opt-in by email confirmation ({first.source})",
        "consentReceiptID": hashlib.sha256(
            b"".join(leaf_hash(consent_log.leaf_bytes(e)) for e in events)
        ).hexdigest()[:32],
        # The language of the words the person agreed to (each purpose names its own).
        "language": next(
            (p["consentTextLanguage"] for p in purposes if p["consentTextLanguage"]), "en"
        ),
        "piiPrincipalId": first.subscriber_key,
        "piiControllers": [
            {
                "piiController": "Co-op Data Club",
                "address": settings.postal_address,
                "url": settings.base_url,
            }
        ],
        "policyUrl": f"{settings.base_url}/privacy",
        "services": [{"service": "Co-op Data Club newsletters", "purposes": purposes}],
        "sensitive": False,
    }
    signer = consent_log.log_signer()
    receipt["signature"] = {
        "algorithm": "Ed25519",
        "keyId": f"{signer.name}+{signer.verifier.key_id.hex()}",
        "value": base64.b64encode(signer.sign(receipt_signing_bytes(receipt))).decode(),
    }
    return receipt


def verify_receipt(session: Session, receipt: dict[str, Any]) -> tuple[bool, str]:
    """(genuine, reason): the signature matches the contents, and the log (or, for a
    receipt from before the log, the ledger) still holds every consent it quotes."""
    signature = receipt.get("signature")
    if isinstance(signature, dict):
        return _verify_logged_receipt(session, receipt)
    if not isinstance(signature, str):
        return False, "the receipt has no signature"
    try:
        payload = signing.unsign(signing.Purpose.receipt, signature)
    except signing.InvalidToken:
        return False, "the signature is not ours"
    if not isinstance(payload, dict) or payload.get("k") != "receipt":
        return False, "the signature is not a receipt signature"
    if payload.get("d") != _canonical_digest(receipt):
        return False, "the receipt was altered after it was signed"
    try:
        quoted = [p["ledgerEvent"] for s in receipt["services"] for p in s["purposes"]]
    except (KeyError, TypeError):
        return False, "the receipt lists no consents"
    for item in quoted:
        found = session.exec(
            select(ConsentEvent.id).where(
                ConsentEvent.seq == item.get("seq"), ConsentEvent.hash == item.get("hash")
            )
        ).first()
        if found is None:
            return False, "the ledger does not hold the consent this receipt quotes"
    return True, "genuine and unaltered"


def _verify_logged_receipt(session: Session, receipt: dict[str, Any]) -> tuple[bool, str]:
    try:
        proofs = verify_receipt_offline(receipt, consent_log.log_verifier())
    except LogVerificationError as exc:
        return False, str(exc)
    latest = consent_log.latest_checkpoint(session)
    for proof in proofs:
        ours = consent_log.checkpoint_at(session, proof.size)
        if ours is None or latest is None:
            return False, f"the log never had the checkpoint of size {proof.size} it quotes"
        # The checkpoint it quotes is still part of today's log (no rewritten past).
        consistency = consent_log.prove_consistency(session, proof.size, latest.size)
        try:
            verify_consistency(
                proof.size, latest.size, ours.root_hash, latest.root_hash, consistency
            )
        except LogVerificationError as exc:
            return False, str(exc)
    sizes = sorted({p.size for p in proofs})
    return True, (
        "genuine and unaltered; included in the log at checkpoint "
        + ", ".join(str(s) for s in sizes)
    )
