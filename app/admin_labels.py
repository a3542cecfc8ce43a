"""The words staff pages show for the stored codes of states, roles and consent events
("active", "queued", "import"): translated when shown, while the codes themselves stay as
they are in the database, the API and the CSS classes (`status-active`).

Templates call `state_name(code)`; a code without a name here is shown as it is."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_skeleton
from babel.support import LazyProxy

from app.i18n import LANGUAGES, current, lazy_gettext
from app.members import codes
from app.web import templates

STATE_NAMES: dict[str, LazyProxy] = {
    # members
    "applied": lazy_gettext("applied"),
    "active": lazy_gettext("active"),
    "suspended": lazy_gettext("suspended"),
    "declined": lazy_gettext("declined"),
    # subscriptions and sharing
    "pending": lazy_gettext("pending"),
    "unsubscribed": lazy_gettext("unsubscribed"),
    # topics (their "open": TOPIC_STATE_NAMES)
    "hidden": lazy_gettext("hidden"),
    "archived": lazy_gettext("archived"),
    # imports and exports
    "queued": lazy_gettext("queued"),
    "running": lazy_gettext("running"),
    "done": lazy_gettext("done"),
    "failed": lazy_gettext("failed"),
    # issues and deliveries
    "draft": lazy_gettext("draft"),
    "scheduled": lazy_gettext("scheduled"),
    "sending": lazy_gettext("sending"),
    "paused": lazy_gettext("paused"),
    "sent": lazy_gettext("sent"),
    "cancelled": lazy_gettext("cancelled"),
    "bounced": lazy_gettext("bounced"),
    "complained": lazy_gettext("complained"),
    "skipped": lazy_gettext("skipped"),
    # roles
    "admin": lazy_gettext("Club admin"),
    "owner": lazy_gettext("owner"),
    "staff": lazy_gettext("staff"),
    # consent events: what, on what, through what
    "requested": lazy_gettext("requested"),
    "confirmed": lazy_gettext("confirmed"),
    "withdrawn": lazy_gettext("withdrawn"),
    "erased": lazy_gettext("erased"),
    "lifted": lazy_gettext("suppression lifted"),
    "topic": lazy_gettext("topic"),
    "sharing": lazy_gettext("sharing with members"),
    "sponsored": lazy_gettext("sponsored content"),
    "form": lazy_gettext("signup page"),
    "embed": lazy_gettext("member's embedded form"),
    "api": lazy_gettext("API"),
    "import": lazy_gettext("import"),
}

# Why an import skipped a row (the keys of app.subscribers.importer.SKIP_REASONS).
SKIP_REASON_NAMES: dict[str, LazyProxy] = {
    "withdrew": lazy_gettext("unsubscribed earlier"),
    "erased": lazy_gettext("erased at their request"),
    "bounced": lazy_gettext("their address bounced"),
    "complained": lazy_gettext("they reported our mail as spam"),
    "suppressed": lazy_gettext("suppressed by an admin"),
}


# A topic's "open" is not a marketplace slot's "open" (offered): its own words.
TOPIC_STATE_NAMES: dict[str, LazyProxy] = {"open": lazy_gettext("open to signups")}


def state_name(code: object, of: str = "") -> str:
    """The word for a stored code in the language in force (an enum or its value);
    `of="topic"` for a topic's state."""
    value = str(getattr(code, "value", code))
    name = (TOPIC_STATE_NAMES if of == "topic" else {}).get(value) or STATE_NAMES.get(value)
    if name is None:  # a booking's state, as the marketplace words it ("awaiting payment")
        from app.marketplace.states import LABELS

        name = {code.value: label for code, label in LABELS.items()}.get(value.replace(" ", "_"))
    return str(name) if name is not None else value


def _locale() -> str:
    language = current()
    return language if language in LANGUAGES else "en"  # the pseudo-locale formats as English


def short_day(day: date) -> str:
    """A chart's day label in the reader's language: "Nov 3", "3 nov.", "3 nov"."""
    return format_skeleton("MMMd", day, locale=_locale())


def short_hour(moment: datetime) -> str:
    """A chart's hour label: "Nov 3 14:00", "3 nov. 14:00"."""
    return f"{short_day(moment)} {moment:%H}:00"


def kind_label(code: str | None) -> str | None:
    """A member's kind as the reader says it (the stored code stays in the data)."""
    return codes.kind_name(code) if code else code


templates.env.globals["state_name"] = state_name
templates.env.globals["kind_label"] = kind_label
