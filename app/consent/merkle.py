"""The log's side of the consent transparency log: stored hashes, proofs, signed checkpoints.

The tree is kept as Go's sumdb `tlog` keeps it: the hash of every complete subtree,
addressed by (level, index), covering leaves [index * 2**level, (index + 1) * 2**level).
Appending a leaf stores its hash and the hashes of the subtrees it completes (O(1)
amortised); the root of any size and every RFC 9162 inclusion or consistency proof are
then computed from O(log n) stored hashes. Storage is a `read(level, index)` callback,
so the same code serves the database, a monitor's memory and the tests.
Everything here is checked by `app.consent.logverify`, which an auditor can read alone.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.consent.logverify import (
    ED25519_ALG,
    SIGNATURE_PREFIX,
    Checkpoint,
    NoteVerifier,
    empty_root,
    key_id,
    leaf_hash,
    node_hash,
)

# read(level, index) -> the stored hash of that complete subtree
HashReader = Callable[[int, int], bytes]


class ProofRequestError(ValueError):
    """A proof was asked for sizes or indexes the tree cannot have."""


def hashes_to_store(index: int, leaf: bytes, read: HashReader) -> list[tuple[int, int, bytes]]:
    """The (level, index, hash) entries to store when appending leaf number `index`.

    The leaf's own hash, then the parent of every subtree the leaf completes; `read`
    must already answer for every entry stored for the leaves before it.
    """
    h = leaf_hash(leaf)
    entries = [(0, index, h)]
    level, n = 0, index
    while n & 1:
        h = node_hash(read(level, n - 1), h)
        level, n = level + 1, n >> 1
        entries.append((level, n, h))
    return entries


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, read: HashReader) -> bytes:
    """MTH(D[start:end]) for a range whose start is aligned to the largest subtree in it.

    Every range that RFC 9162's recursion visits is such a range, so the hash is the
    right fold of the complete subtrees it splits into: at most log2(n) reads.
    """
    if start >= end:
        raise ProofRequestError("an empty range has no subtree hash")
    parts: list[bytes] = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        level = size.bit_length() - 1
        if start % size:
            raise ProofRequestError(f"range [{start}, {end}) is not aligned")
        parts.append(read(level, start >> level))
        start += size
    h = parts[-1]
    for left in reversed(parts[:-1]):
        h = node_hash(left, h)
    return h


def root_hash(size: int, read: HashReader) -> bytes:
    return subtree_hash(0, size, read) if size else empty_root()


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ProofRequestError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            proof.append(subtree_hash(start + k, end, read))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, read))
            start += k
    proof.reverse()
    return proof


def consistency_proof(old_size: int, new_size: int, read: HashReader) -> list[bytes]:
    """SUBPROOF(old_size, D[new_size], true) of RFC 9162 2.1.4.1."""
    if not 0 <= old_size <= new_size:
        raise ProofRequestError(f"no tree of size {new_size} extends one of size {old_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_hash(start, end, read))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            proof.append(subtree_hash(start + k, end, read))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, read))
            start, m, complete = start + k, m - k, False
    proof.reverse()
    return proof


class MemoryTree:
    """A whole tree in memory: for monitors rebuilding the log from its leaves, and tests."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.size = 0
        self._hashes: dict[tuple[int, int], bytes] = {}
        for leaf in leaves:
            self.append(leaf)

    def read(self, level: int, index: int) -> bytes:
        return self._hashes[(level, index)]

    def append(self, leaf: bytes) -> None:
        for level, index, h in hashes_to_store(self.size, leaf, self.read):
            self._hashes[(level, index)] = h
        self.size += 1

    def root(self, size: int | None = None) -> bytes:
        return root_hash(self.size if size is None else size, self.read)


# --- signing ---------------------------------------------------------------------------


class NoteSigner:
    """An Ed25519 key with its name, signing C2SP notes and checkpoints."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = name
        self._key = private_key
        public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifier = NoteVerifier(name=name, key_id=key_id(name, public), public_key=public)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, skey: str) -> NoteSigner:
        """Read Go's signer key format: PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise ValueError("a signer key is PRIVATE+KEY+<name>+<key id>+<base64 key>")
        raw = base64.b64decode(parts[4], validate=True)
        if len(raw) != 33 or raw[0] != ED25519_ALG:
            raise ValueError("the signer key is not an Ed25519 key")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id.hex() != parts[3]:
            raise ValueError("the signer key's id does not match its name and key")
        return signer

    def encode(self) -> str:
        seed = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        raw = base64.b64encode(bytes([ED25519_ALG]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{raw}"

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def sign_note(self, text: str) -> str:
        if not text.endswith("\n") or "\n\n" in text:
            raise ValueError("a note's text ends with a newline and has no blank line")
        signature = base64.b64encode(self.verifier.key_id + self.sign(text.encode())).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {signature}\n"

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        return self.sign_note(checkpoint.text())
