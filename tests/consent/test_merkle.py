"""The consent log's Merkle tree and signed notes against published test vectors.

Roots and proofs: the RFC 6962 reference vectors that Certificate Transparency's and
transparency-dev's implementations test against. Signed notes: the example in Go's
golang.org/x/mod/sumdb/note documentation, so tools from that ecosystem read ours.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.consent.logverify import (
    Checkpoint,
    LogVerificationError,
    NoteVerifier,
    empty_root,
    leaf_hash,
    open_checkpoint,
    open_note,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from app.consent.merkle import (
    MemoryTree,
    NoteSigner,
    ProofRequestError,
    consistency_proof,
    inclusion_proof,
)

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


# (leaf index, tree size, proof)
INCLUSION = [
    (
        0,
        8,
        h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]
# (old size, new size, proof)
CONSISTENCY = [
    (
        1,
        8,
        h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

TREE = MemoryTree(LEAVES)


def test_roots_of_every_size_match_the_vectors():
    assert TREE.root(0) == empty_root()
    for size, root in enumerate(ROOTS, start=1):
        assert TREE.root(size) == root
        assert MemoryTree(LEAVES[:size]).root() == root


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_and_verify(index, size, proof):
    assert inclusion_proof(index, size, TREE.read) == proof
    verify_inclusion(index, size, leaf_hash(LEAVES[index]), proof, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_and_verify(old, new, proof):
    assert consistency_proof(old, new, TREE.read) == proof
    verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    changed = list(proof)
    changed[i] = bytes([changed[i][0] ^ 8]) + changed[i][1:]
    return changed


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_are_refused(index, size, proof):
    leaf, root = leaf_hash(LEAVES[index]), ROOTS[size - 1]
    probes = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, leaf_hash(b"WrongLeaf"), proof, root),
        (index, size, leaf, proof, empty_root()),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root),
    ] + [(index, size, leaf, _flip(proof, i), root) for i in range(len(proof))]
    for probe in probes:
        with pytest.raises(LogVerificationError):
            verify_inclusion(*probe)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_corrupted_consistency_proofs_are_refused(old, new, proof):
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, empty_root(), r2, proof),
        (old, new, r1, empty_root(), proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ] + [(old, new, r1, r2, _flip(proof, i)) for i in range(len(proof))]
    for probe in probes:
        with pytest.raises(LogVerificationError):
            verify_consistency(*probe)


def test_impossible_requests_are_refused():
    for index, size in [(0, 0), (1, 1), (8, 7), (-1, 3)]:
        with pytest.raises(ProofRequestError):
            inclusion_proof(index, size, TREE.read)
        with pytest.raises(LogVerificationError):
            root_from_inclusion_proof(index, size, leaf_hash(b"x"), [])
    for old, new in [(5, 0), (9, 8)]:
        with pytest.raises(ProofRequestError):
            consistency_proof(old, new, TREE.read)
        with pytest.raises(LogVerificationError):
            verify_consistency(old, new, ROOTS[0], ROOTS[0], [])


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_every_proof_of_random_trees_verifies(leaves, data):
    tree = MemoryTree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    root = tree.root(size)
    assert root == MemoryTree(leaves[:size]).root()
    verify_inclusion(
        index, size, leaf_hash(leaves[index]), inclusion_proof(index, size, tree.read), root
    )
    verify_consistency(old, size, tree.root(old), root, consistency_proof(old, size, tree.read))


# --- signed notes: Go's sumdb/note example, byte for byte ---------------------------------

GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann "
    + "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FF"
    + "YC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signed_notes_match_gos_note_package():
    signer = NoteSigner.parse(GO_SKEY)
    assert signer.verifier.encode() == GO_VKEY
    assert signer.encode() == GO_SKEY
    assert signer.sign_note(GO_TEXT) == GO_NOTE
    assert open_note(GO_NOTE, NoteVerifier.parse(GO_VKEY)) == GO_TEXT


def test_cosigned_notes_open_with_either_key():
    witness = NoteSigner.generate("witness.example")
    cosigned = witness.sign_note(GO_TEXT).rstrip("\n").split("\n")[-1]
    note = GO_NOTE + cosigned + "\n"
    assert open_note(note, NoteVerifier.parse(GO_VKEY)) == GO_TEXT
    assert open_note(note, witness.verifier) == GO_TEXT


def test_tampered_notes_and_wrong_keys_are_refused():
    verifier = NoteVerifier.parse(GO_VKEY)
    with pytest.raises(LogVerificationError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographi"), verifier)
    with pytest.raises(LogVerificationError, match="no signature by"):
        open_note(GO_NOTE, NoteSigner.generate("PeterNeumann").verifier)
    with pytest.raises(LogVerificationError):
        open_note(GO_TEXT, verifier)
    with pytest.raises(LogVerificationError, match="id does not match"):
        NoteVerifier.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))


def test_checkpoints_round_trip_and_name_their_log():
    signer = NoteSigner.generate("consent.example")
    checkpoint = Checkpoint("consent.example/log", 8, ROOTS[7])
    note = signer.sign_checkpoint(checkpoint)
    assert note.startswith(f"consent.example/log\n8\n{base64.b64encode(ROOTS[7]).decode()}\n\n")
    assert open_checkpoint(note, signer.verifier, "consent.example/log") == checkpoint
    with pytest.raises(LogVerificationError, match="from the log"):
        open_checkpoint(note, signer.verifier, "another.example/log")
    forged = note.replace("\n8\n", "\n9\n", 1)
    with pytest.raises(LogVerificationError, match="does not verify"):
        open_checkpoint(forged, signer.verifier)
