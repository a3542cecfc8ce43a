"""A monitor (witness) of the consent log, run by anyone, anywhere, with no database.

Each run fetches the log's latest signed checkpoint over HTTP, checks its signature with
the public key, and checks a consistency proof from the checkpoint this monitor saw
last time (kept in a small state file). A log that rewrote or truncated its past cannot
produce that proof, even though its operator holds the signing key: keep the state file
somewhere the operator cannot edit. Like app.consent.logverify it imports nothing else
from the app.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from app.consent.logverify import (
    Checkpoint,
    LogVerificationError,
    NoteVerifier,
    open_checkpoint,
    verify_consistency,
)

TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class AuditResult:
    previous: Checkpoint | None
    latest: Checkpoint

    def summary(self) -> str:
        if self.previous is None:
            return f"first look: size {self.latest.size}, checkpoint saved"
        grown = self.latest.size - self.previous.size
        return (
            f"consistent: size {self.previous.size} -> {self.latest.size} "
            f"({grown} new entries), nothing before was changed"
        )


def _get(base_url: str, path: str, params: dict[str, int] | None = None) -> bytes:
    url = base_url.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise LogVerificationError(f"{url} is not an http(s) address")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200]
        raise LogVerificationError(f"{url} answered {exc.code}: {detail}") from exc
    except urllib.error.URLError as exc:
        raise LogVerificationError(f"{url} could not be reached: {exc.reason}") from exc


def _load_state(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LogVerificationError(f"the state file {path} is unreadable: {exc}") from exc
    if not isinstance(state, dict):
        raise LogVerificationError(f"the state file {path} is not a monitor's state")
    return state


def audit(base_url: str, state_path: Path, key: str | None = None) -> AuditResult:
    """Check the log at `base_url` against what this monitor saw before; save the new
    checkpoint only when everything checks out. Raises LogVerificationError otherwise."""
    state = _load_state(state_path)
    pinned = key or state.get("key")
    served = _get(base_url, "/consent-log/key").decode().strip()
    if pinned is not None and served != pinned.strip():
        raise LogVerificationError(
            "the log now serves another key than the one this monitor trusts"
        )
    verifier = NoteVerifier.parse(pinned or served)
    origin = state.get("origin")
    note = _get(base_url, "/consent-log/checkpoint").decode()
    latest = open_checkpoint(note, verifier, origin)
    previous = None
    if "checkpoint" in state:
        previous = open_checkpoint(state["checkpoint"], verifier, origin)
        if latest.size < previous.size:
            raise LogVerificationError(
                f"the log shrank from {previous.size} to {latest.size} entries: it was truncated"
            )
        body = _get(
            base_url, "/consent-log/proof/consistency", {"old": previous.size, "size": latest.size}
        )
        try:
            proof = [base64.b64decode(h, validate=True) for h in json.loads(body)["proof"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise LogVerificationError("the consistency proof is malformed") from exc
        verify_consistency(previous.size, latest.size, previous.root_hash, latest.root_hash, proof)
    new_state = {"key": verifier.encode(), "origin": latest.origin, "checkpoint": note}
    state_path.write_text(json.dumps(new_state, indent=2) + "\n")
    return AuditResult(previous=previous, latest=latest)
