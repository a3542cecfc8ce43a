"""Verify the consent log with nothing but its public key: Merkle proofs and signed checkpoints.

This module is what an auditor reads. It imports nothing from the rest of the app, only
the standard library and `cryptography` (for Ed25519), and implements exactly:

- RFC 9162 section 2.1: the Merkle tree hash (leaf hash SHA-256(0x00 || leaf), interior
  node SHA-256(0x01 || left || right)), inclusion proof verification (2.1.3.2) and
  consistency proof verification (2.1.4.2);
- C2SP signed-note: a note is UTF-8 text ending in a newline, a blank line, then one line
  per signature, "— <key name> <base64(4-byte key id || signature)>"; an Ed25519 key id is
  the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key), and a
  verifier key is written "<name>+<8 hex key id>+<base64(0x01 || public key)>";
- C2SP tlog-checkpoint: the note text is the origin line, the tree size in decimal, the
  base64 root hash, then optional extension lines;
- consent receipts: Ed25519 over the canonical JSON of the receipt, and for each consent
  its leaf, inclusion proof and checkpoint.
docs/consent-log.md describes the same formats for writing a verifier in another language.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
ED25519_ALG = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space start every signature line


class LogVerificationError(ValueError):
    """A proof, a signature or a format did not check out; the message says which."""


# --- RFC 9162 Merkle tree hashes -------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    return hashlib.sha256(b"").digest()


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash_: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root a proof leads to from a leaf hash (RFC 9162 2.1.3.2); raises if malformed."""
    if not 0 <= index < size:
        raise LogVerificationError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes([leaf_hash_, *proof])
    fn, sn = index, size - 1
    r = leaf_hash_
    for p in proof:
        if sn == 0:
            raise LogVerificationError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogVerificationError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf_hash_: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    if root_from_inclusion_proof(index, size, leaf_hash_, proof) != root:
        raise LogVerificationError(
            f"leaf {index} is not in the tree of size {size} with that root hash"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of new_size extends the tree of old_size (RFC 9162 2.1.4.2)."""
    if not 0 <= old_size <= new_size:
        raise LogVerificationError(f"a tree of size {new_size} cannot extend one of {old_size}")
    _check_hashes([*proof])
    if old_size == new_size:
        if proof:
            raise LogVerificationError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise LogVerificationError(
                f"the log was rewritten: two different roots for the same size {old_size}"
            )
        return
    if old_size == 0:
        if proof:
            raise LogVerificationError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise LogVerificationError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise LogVerificationError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogVerificationError("the consistency proof is too short")
    if fr != old_root:
        raise LogVerificationError(
            f"the log's history up to size {old_size} was rewritten (old root does not match)"
        )
    if sr != new_root:
        raise LogVerificationError(f"the proof does not lead to the root of size {new_size}")


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise LogVerificationError(f"a hash of {len(h)} bytes where 32 were expected")


# --- C2SP signed notes -----------------------------------------------------------------


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + public_key).digest()[:4]


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise LogVerificationError(f"{name!r} is not a valid key name (no spaces or '+')")


@dataclass(frozen=True)
class NoteVerifier:
    """A public key that checks signed notes: its name, 4-byte id and Ed25519 key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Read "<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>"."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise LogVerificationError("a verifier key is <name>+<key id>+<base64 key>")
        name, hex_id, encoded = parts
        _check_key_name(name)
        try:
            raw = base64.b64decode(encoded, validate=True)
            given_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError) as exc:
            raise LogVerificationError("the verifier key is not valid hex and base64") from exc
        if len(given_id) != 4 or len(raw) != 33 or raw[0] != ED25519_ALG:
            raise LogVerificationError("the verifier key is not an Ed25519 key")
        public_key = raw[1:]
        if key_id(name, public_key) != given_id:
            raise LogVerificationError("the verifier key's id does not match its name and key")
        return cls(name=name, key_id=given_id, public_key=public_key)

    def encode(self) -> str:
        raw = base64.b64encode(bytes([ED25519_ALG]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def open_note(note: str, verifier: NoteVerifier) -> str:
    """The text of a signed note after checking the verifier's signature on it.

    Signatures by other keys are allowed (witnesses may cosign) and ignored; the note
    must carry at least one valid signature by this verifier.
    """
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not text:
        raise LogVerificationError("a signed note is text, a blank line, then signatures")
    text += "\n"
    if not signatures.endswith("\n"):
        raise LogVerificationError("a signed note ends with a newline")
    found_key = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise LogVerificationError(f"not a signature line: {line[:40]!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise LogVerificationError("a signature is not valid base64") from exc
        if len(raw) < 5:
            raise LogVerificationError("a signature line is too short")
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        found_key = True
        if verifier.verify(text.encode(), raw[4:]):
            return text
    if found_key:
        raise LogVerificationError(f"the signature by {verifier.name} does not verify")
    raise LogVerificationError(f"the note carries no signature by {verifier.name}")


# --- C2SP checkpoints ------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise LogVerificationError("a checkpoint is an origin, a size and a root hash")
        origin, size_text, root_text, *extensions = lines[:-1]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise LogVerificationError(f"the checkpoint size {size_text!r} is not a number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error as exc:
            raise LogVerificationError("the checkpoint root hash is not base64") from exc
        _check_hashes([root])
        return cls(origin, int(size_text), root, tuple(extensions))


def open_checkpoint(note: str, verifier: NoteVerifier, origin: str | None = None) -> Checkpoint:
    """A checkpoint after checking its signature and, if given, that it is from this log."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise LogVerificationError(
            f"the checkpoint is from the log {checkpoint.origin!r}, not {origin!r}"
        )
    return checkpoint


# --- consent receipts --------------------------------------------------------------------


def receipt_signing_bytes(receipt: dict[str, Any]) -> bytes:
    """What a receipt's signature covers: canonical JSON of everything but `signature`."""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ReceiptProof:
    """One consent of a receipt, proven: its leaf is at `index` of the log of `size`."""

    index: int
    size: int
    leaf: dict[str, Any]


def verify_receipt(receipt: dict[str, Any], verifier: NoteVerifier) -> list[ReceiptProof]:
    """Check a receipt with the log's public key alone; raise naming the first problem.

    The Ed25519 signature covers the whole receipt; each consent it lists carries its
    leaf, an inclusion proof and the signed checkpoint the proof leads to, and the leaf
    must be a confirmation by the receipt's person of that consent's scope.
    """
    signature = receipt.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != "Ed25519":
        raise LogVerificationError("the receipt carries no Ed25519 signature")
    if signature.get("keyId") != f"{verifier.name}+{verifier.key_id.hex()}":
        raise LogVerificationError("the receipt was signed by another key")
    try:
        value = base64.b64decode(str(signature.get("value")), validate=True)
    except binascii.Error as exc:
        raise LogVerificationError("the receipt's signature is not base64") from exc
    if not verifier.verify(receipt_signing_bytes(receipt), value):
        raise LogVerificationError("the receipt was altered after it was signed")
    try:
        purposes = [p for s in receipt["services"] for p in s["purposes"]]
        proofs = [_verify_purpose(p, receipt["piiPrincipalId"], verifier) for p in purposes]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, LogVerificationError):
            raise
        raise LogVerificationError(f"the receipt is malformed ({exc!r})") from exc
    if not proofs:
        raise LogVerificationError("the receipt lists no consents")
    return proofs


def _verify_purpose(
    purpose: dict[str, Any], principal: str, verifier: NoteVerifier
) -> ReceiptProof:
    entry = purpose["log"]
    leaf_raw = base64.b64decode(entry["leaf"], validate=True)
    proof = [base64.b64decode(h, validate=True) for h in entry["inclusionProof"]]
    checkpoint = open_checkpoint(entry["checkpoint"], verifier)
    index = entry["index"]
    if not isinstance(index, int):
        raise LogVerificationError("a consent's log index is not a number")
    verify_inclusion(index, checkpoint.size, leaf_hash(leaf_raw), proof, checkpoint.root_hash)
    leaf = json.loads(leaf_raw)
    if leaf.get("subscriber_key") != principal or leaf.get("action") != "confirmed":
        raise LogVerificationError(f"log entry {index} is not this person's confirmation")
    if leaf.get("scope") != purpose.get("scope"):
        raise LogVerificationError(f"log entry {index} is about another kind of consent")
    return ReceiptProof(index=index, size=checkpoint.size, leaf=leaf)
