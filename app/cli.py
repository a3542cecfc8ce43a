"""The `coopclub` command: serve, worker, db upgrade, demo, create-admin; `check` lives in
app.preflight and the `consent` group in app.consent.commands.

This is the composition root: it alone may import both `app` and `workers`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from app.config import ConfigError, get_settings
from app.consent.commands import consent
from app.preflight import check


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Co-op Data Club: an opt-in newsletter marketplace owned by its member co-ops.

    Configuration comes from COOPCLUB_* environment variables (see the README);
    with none set, everything runs embedded: SQLite and a file outbox under var/,
    and jobs in worker threads inside `coopclub serve`.
    """
    from app.observability import configure_logging

    configure_logging(get_settings())  # a bad setting stops here, with one line naming it


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    "web_workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web processes (more than one needs COOPCLUB_REDIS_URL).",
)
def serve(host: str, port: int, web_workers: int) -> None:
    """Serve the web app. Embedded default: jobs run in this process too."""
    import uvicorn

    settings = get_settings()
    # X-Forwarded-For is believed only from the configured proxies (none by default):
    # uvicorn then takes the client as the last address in it that is not a proxy's.
    options: dict = {
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies,
        # SIGTERM: stop accepting, let requests in flight finish (up to 30 s), then exit.
        "timeout_graceful_shutdown": 30,
        # Our logging setup stays in place (create_app sets it up in each web process),
        # and app.observability logs each request once, by its route template; uvicorn's
        # access line would log it twice, with the client address and the raw URL.
        "log_config": None,
        "access_log": False,
    }
    if settings.broker_kind == "embedded":
        if web_workers != 1:
            raise click.UsageError("--workers > 1 needs COOPCLUB_REDIS_URL (a shared broker)")
        import workers  # noqa: F401  (declares the actors the in-process worker runs)
        from app.main import create_app

        uvicorn.run(create_app(run_jobs_in_process=True), host=host, port=port, **options)
    else:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=web_workers,
            **options,
        )


@cli.command()
@click.option(
    "--processes",
    "-p",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@click.option(
    "--threads",
    "-t",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Threads per process.",
)
@click.option(
    "--metrics-port",
    default=None,
    type=click.IntRange(1, 65535),
    help="Serve this machine's worker counters for Prometheus on this port (for worker "
    "machines without a web process; see docs/deploy.md).",
)
def worker(processes: int, threads: int, metrics_port: int | None) -> None:
    """Run Dramatiq worker processes against Redis, and the periodic sweep."""
    if get_settings().broker_kind != "redis":
        raise click.UsageError(
            "`coopclub worker` needs COOPCLUB_REDIS_URL; in the embedded default "
            "`coopclub serve` runs the jobs itself"
        )
    from workers.runner import run

    sys.exit(run(processes, threads, metrics_port=metrics_port))


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply the migrations (the only source of the schema)."""
    from app.migrations import upgrade
    from app.rekey import rekey_addresses

    upgrade(revision)
    click.echo(f"database is at {revision} ({get_settings().database_kind})")
    moved = rekey_addresses()
    if moved:
        click.echo(f"{moved} subscribers' address HMACs re-keyed under the suppression pepper")


@db.command("grant")
@click.argument("role")
@click.option("--print", "print_only", is_flag=True, help="Print the SQL instead of running it.")
def db_grant(role: str, print_only: bool) -> None:
    """Give ROLE (the role the app runs as) what it needs and no more: only SELECT and
    INSERT on the consent ledger and log, no DDL. Run it as the owner after every
    `db upgrade` (PostgreSQL only)."""
    from app.migrations import app_role_grants, grant_app_role

    try:
        if print_only:
            click.echo(";\n".join(app_role_grants(role)) + ";")
            return
        grant_app_role(role)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(f"{role} may now run the app, and only append to the consent ledger")


@cli.command()
def demo() -> None:
    """Seed demo member co-ops, accounts and content (safe to run again)."""
    import dramatiq

    import workers  # noqa: F401  (declares the actors the demo's emails are queued for)
    from app import demo as demo_data
    from app import jobs
    from app.db import session_scope

    with session_scope() as session:
        demo_data.seed(session)
    if get_settings().broker_kind == "embedded":
        # No worker runs beside this command in the embedded default: deliver the demo's
        # emails (to the outbox or SMTP) now rather than leave them to the next sweep.
        logging.getLogger("dramatiq").setLevel(logging.WARNING)
        worker = dramatiq.Worker(jobs.broker, worker_threads=2)
        worker.start()
        for queue in jobs.broker.get_declared_queues():
            jobs.broker.join(queue)
        worker.join()
        worker.stop()
    click.echo("demo data is in place")


@cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
def create_admin(email: str, name: str) -> None:
    """Create a Club admin account for EMAIL (or make an existing account an admin).

    In the embedded default (file outbox, or any non-production setup) it also prints a
    login link, so the first admin can log in without mail being set up."""
    from email_validator import EmailNotValidError, validate_email
    from sqlmodel import select

    from app.auth.service import LOGIN_LINK_LIFETIME, issue_login_link
    from app.db import session_scope
    from app.members.models import Account, Role

    try:
        address = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    with session_scope() as session:
        account = session.exec(select(Account).where(Account.email == address)).first()
        if account is None:
            account = Account(email=address, display_name=name or address, role=Role.admin)
            session.add(account)
            click.echo(f"created admin {address}")
        else:
            account.role, account.member_id, account.active = Role.admin, None, True
            click.echo(f"{address} is now an admin")
        session.flush()
        settings = get_settings()
        if settings.mail_kind == "outbox" or not settings.is_production:
            link = issue_login_link(session, account=account, next_path="/admin")
            minutes = int(LOGIN_LINK_LIFETIME.total_seconds() // 60)
            click.echo(f"log in within {minutes} minutes (the link works once):\n{link}")


cli.add_command(consent)
cli.add_command(check)


@cli.group()
def subscribers() -> None:
    """Subscribers and topics."""


@subscribers.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--topic", "topic_slugs", multiple=True, required=True, help="Topic slug (repeat).")
def subscribers_import(csv_file, topic_slugs: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Import CSV_FILE (header with an `email` column, optional `first_name`) as pending
    subscribers; each gets a re-permission email and nothing else until they confirm."""
    from app.db import session_scope
    from app.subscribers.importer import SKIP_REASONS, CsvImportError, import_csv
    from app.subscribers.service import topics_by_slug

    with session_scope() as session:
        topics, unknown = topics_by_slug(session, list(topic_slugs), open_only=False)
        if unknown:
            raise click.BadParameter(f"unknown topic: {', '.join(unknown)}", param_hint="--topic")
        try:
            report = import_csv(session, content=csv_file.read(), topics=topics)
        except CsvImportError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"accepted: {report.counts['accepted']} (each sent a re-permission email)")
    click.echo(f"already on these lists: {report.counts['already']}")
    click.echo(f"duplicates: {report.counts['duplicates']} {report.duplicates or ''}".rstrip())
    for reason, lines in report.skipped.items():
        click.echo(f"skipped, {SKIP_REASONS[reason]}: {report.counts[reason]} (lines {lines})")
    click.echo(f"invalid: {report.counts['invalid']}")
    for line, reason in report.invalid:
        click.echo(f"  line {line}: {reason}")


@cli.group()
def topics() -> None:
    """The topic lists people subscribe to."""


@topics.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The name people see.")
@click.option("--description", default="", help="One or two sentences on what it carries.")
@click.option("--owner", default="", help="Slug of the member co-op that owns it (optional).")
def topics_add(slug: str, name: str, description: str, owner: str) -> None:
    """Open a topic at SLUG (its web address: /subscribe/SLUG)."""
    from app.db import session_scope
    from app.subscribers.topics import TopicError, TopicForm, create_topic

    try:
        with session_scope() as session:
            topic = create_topic(
                session,
                TopicForm(slug=slug, name=name, description=description, owner_slug=owner),
            )
            click.echo(f"opened {topic.slug}: {topic.name}")
    except TopicError as exc:
        raise click.ClickException("\n".join(exc.errors.values())) from None


@topics.command("list")
def topics_list() -> None:
    """Every topic with its state, owner and subscriber counts."""
    from app.db import session_scope
    from app.subscribers.topics import topic_rows

    with session_scope() as session:
        rows = topic_rows(session)
        if not rows:
            click.echo("no topics yet: coopclub topics add SLUG --name NAME")
        for row in rows:
            owner = f" owner={row.owner.slug}" if row.owner else ""
            listed = "" if row.topic.public else " unlisted"
            click.echo(
                f"{row.topic.slug}\t{row.topic.status.value}{listed}{owner}\t"
                f"active={row.active} pending={row.pending}\t{row.topic.name}"
            )


def _set_topic_status(slug: str, status: str) -> None:
    from app.db import session_scope
    from app.subscribers.models import TopicStatus
    from app.subscribers.topics import set_status, topic_by_slug

    with session_scope() as session:
        topic = topic_by_slug(session, slug)
        if topic is None:
            raise click.BadParameter(f"unknown topic: {slug}", param_hint="SLUG")
        set_status(session, topic, TopicStatus(status))
    click.echo(f"{slug} is now {status}")


@topics.command("hide")
@click.argument("slug")
def topics_hide(slug: str) -> None:
    """Take SLUG off every public page and close it to signups; its subscribers stay."""
    _set_topic_status(slug, "hidden")


@topics.command("archive")
@click.argument("slug")
def topics_archive(slug: str) -> None:
    """Hide SLUG and take it out of the admins' topic pickers too."""
    _set_topic_status(slug, "archived")


@topics.command("open")
@click.argument("slug")
def topics_open(slug: str) -> None:
    """Open a hidden or archived topic again."""
    _set_topic_status(slug, "open")


@cli.group()
def bounces() -> None:
    """Bounce and complaint reports."""


@bounces.command("import")
@click.argument("path", type=click.Path(exists=True))
def bounces_import(path: str) -> None:
    """Read bounces (DSN or a server's own format) and ARF complaints from an mbox
    file or a Maildir folder, and apply each (suppressions, consent withdrawals).
    Unreadable reports are stored without addresses."""
    import mailbox
    from collections import Counter

    from app.bounces import service as reports
    from app.db import session_scope

    box = mailbox.Maildir(path, create=False) if Path(path).is_dir() else mailbox.mbox(path)
    counts: Counter[str] = Counter()
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        with session_scope() as session:
            try:
                counts[reports.process(session, raw).kind] += 1
            except reports.UnreadableReport:
                counts["unreadable"] += 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no messages"
    click.echo(f"{sum(counts.values())} reports read: {summary}")


def main() -> None:
    try:
        cli()
    except ConfigError as exc:
        click.echo(f"coopclub: {exc}", err=True)
        sys.exit(2)
