"""`coopclub consent …`: check the ledger and its public log, sequence it, its keys, and
the two commands that need no database: verifying a receipt and monitoring the log."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def consent() -> None:
    """The consent ledger."""


@consent.command("verify")
def consent_verify() -> None:
    """Recompute the consent log from the events and check it against the latest signed
    checkpoint (and the old hash chain of events from before the log), then check that
    every active subscription was confirmed after its last request. Exits 1 naming the
    first problem."""
    from app.consent.verify import verify
    from app.db import session_scope

    with session_scope() as session:
        verdict = verify(session)
    if verdict.problem is not None:
        click.echo(f"consent ledger FAILED at {verdict.problem}", err=True)
        sys.exit(1)
    click.echo(
        f"consent ledger OK: {verdict.events} events in the log, matching its signed "
        "checkpoint; active consents confirmed"
    )


@consent.command("sequence")
@click.option("--full", is_flag=True, help="Look at every event, not only recent ones.")
def consent_sequence(full: bool) -> None:
    """Integrate committed events into the log now (the workers do it continuously)."""
    from app.consent import log as consent_log
    from app.db import session_scope

    while True:
        with session_scope() as session:
            result = consent_log.integrate(session, full_scan=full, wait=True)
        click.echo(f"integrated {result.integrated} events; the log has {result.size}")
        if not result.more:
            return


@consent.command("key")
def consent_key() -> None:
    """Print the log's verifier key (what /consent-log/key serves)."""
    from app.consent import log as consent_log

    click.echo(consent_log.log_verifier().encode())


@consent.command("new-key")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--origin", default=None, help="The log's name (default: from BASE_URL).")
def consent_new_key(path: Path, origin: str | None) -> None:
    """Write a new log signing key to PATH (never over an existing file) and print its
    verifier key. Point COOPCLUB_LOG_SIGNING_KEY_PATH at it; back it up."""
    from app.consent import log as consent_log

    try:
        verifier = consent_log.generate_key_file(path, origin or consent_log.configured_origin())
    except FileExistsError:
        click.echo(f"{path} exists already; a log keeps its key", err=True)
        sys.exit(2)
    click.echo(verifier.encode())


@consent.command("verify-receipt")
@click.argument("receipt_file", type=click.File("r"))
@click.option("--key", "key", required=True, help="The log's verifier key, or a file holding it.")
def consent_verify_receipt(receipt_file, key: str) -> None:  # type: ignore[no-untyped-def]
    """Check a consent receipt offline with the log's public key: its signature, each
    inclusion proof and each checkpoint's signature. No database, no network."""
    import json

    from app.consent.logverify import LogVerificationError, NoteVerifier, verify_receipt

    try:
        vkey = Path(key).read_text() if Path(key).is_file() else key
        proofs = verify_receipt(json.load(receipt_file), NoteVerifier.parse(vkey))
    except (LogVerificationError, ValueError) as exc:
        click.echo(f"receipt NOT verified: {exc}", err=True)
        sys.exit(1)
    for proof in proofs:
        click.echo(
            f"consent {proof.leaf.get('scope')} confirmed at {proof.leaf.get('occurred_at')}: "
            f"log entry {proof.index}, included in the signed checkpoint of size {proof.size}"
        )
    click.echo("receipt verified")


@consent.command("audit")
@click.option("--url", "base_url", required=True, help="The Club's address, e.g. https://…")
@click.option(
    "--state",
    "state_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File keeping the checkpoint seen last time (created on the first run).",
)
@click.option("--key", "key", default=None, help="The verifier key to trust (first run).")
def consent_audit(base_url: str, state_path: Path, key: str | None) -> None:
    """Monitor the public log: check the latest checkpoint's signature and that it is
    consistent with the one this monitor saw last time. Exits 1 if the log's past was
    rewritten or truncated. No database needed."""
    from app.consent.audit import audit
    from app.consent.logverify import LogVerificationError

    try:
        result = audit(base_url, state_path, key)
    except LogVerificationError as exc:
        click.echo(f"consent log audit FAILED: {exc}", err=True)
        sys.exit(1)
    click.echo(f"consent log audit OK: {result.summary()}")
