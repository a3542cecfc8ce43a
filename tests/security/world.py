"""One small Club for the security tests: two members with owners, staff and API keys,
an admin, topics, a newsletter with a draft and a sent issue, a subscriber with their
signed links, and member A's marketplace and sharing objects (a booking, a submitted
creative's click link, a free slot, a sharing agreement offered to A, a submitted
member mailing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import select

from app.consent import log as consent_log
from app.consent import receipts
from app.consent.models import ConsentSource
from app.db import session_scope
from app.marketplace import placement
from app.marketplace.models import BookingStatus, Creative
from app.members import invitations
from app.members.models import Account, Member, Role
from app.newsletters.models import IssueBlock
from app.subscribers import confirmation, signup
from app.subscribers.models import ExportJob, ImportJob, JobStatus, Topic
from app.subscribers.service import preferences_token, subscriber_by_email, unsubscribe_token
from tests.marketplace.factories import make_booking, make_slots
from tests.members.factories import make_account, make_key, make_member
from tests.newsletters.factories import make_issue, make_newsletter, mark_sent
from tests.sharing.helpers import agreement, owned_topic, person, submitted_mailing
from tests.subscribers.helpers import make_topics

SUBSCRIBER = "reader@example.org"
PENDING = "pending@example.org"


@dataclass
class World:
    accounts: dict = field(default_factory=dict)  # role -> Account
    keys: dict = field(default_factory=dict)  # role -> API key secret
    ids: dict = field(default_factory=dict)  # path parameter -> value
    tokens: dict = field(default_factory=dict)  # route prefix -> the subscriber's token
    # Per-path {action}: each route family has its own verbs.
    actions: dict = field(default_factory=dict)  # path prefix -> a legal action
    newsletter_slug: str = "commons"


def build_world() -> World:
    world = World()
    topics = make_topics()  # also the active member "riverside"
    a = make_member("member-a")
    b = make_member("member-b")
    world.accounts = {
        "a_owner": make_account("owner@a.example.org", member=a),
        "a_staff": make_account("staff@a.example.org", member=a, role=Role.staff),
        "b_owner": make_account("owner@b.example.org", member=b),
        "admin": make_account("admin@club.example.org", role=Role.admin, member=None),
    }
    other_staff = make_account("second@a.example.org", member=a, role=Role.staff)
    # Each key-holding role has its own key; {key_id} is a third key of member A.
    _, world.keys["a_owner"] = make_key(a, "Owner's script")
    _, world.keys["a_staff"] = make_key(a, "Staff script")
    _, world.keys["b_owner"] = make_key(b, "B's website")
    target_key, _ = make_key(a, "Website")

    with session_scope() as session:
        food = session.get(Topic, topics["food"])
        # A confirmed subscriber (preferences, unsubscribe, receipt) and a pending one
        # (the confirmation link).
        links = {
            address: signup.request_subscription(
                session,
                signup=signup.Signup(email=address, topics=[food], source=ConsentSource.api),
            ).token
            for address in (SUBSCRIBER, PENDING)
        }
        subscriber = subscriber_by_email(session, SUBSCRIBER)
        confirmed = confirmation.confirm(session, token=links[SUBSCRIBER])
        world.tokens = {
            "/confirm/": links[PENDING],
            "/preferences/": preferences_token(subscriber),
            "/u/": unsubscribe_token(subscriber, None),
            "/receipts/": receipts.download_token([e.id for e in confirmed]),
            # A member mailing's unsubscribe link carries the preferences token.
            "/sharing/stop/": preferences_token(subscriber),
            "/sharing/stop-all/": preferences_token(subscriber),
        }

    with session_scope() as session:
        food = session.get(Topic, topics["food"])
        subscriber_id = subscriber_by_email(session, SUBSCRIBER).id
        # An admin's import and export, as their jobs left them.
        import_job = ImportJob(filename="people.csv", topic_ids=str(food.id), content="email\n")
        export_job = ExportJob(status=JobStatus.done, content="email\n")
        session.add_all([import_job, export_job])
        session.flush()
        admin_jobs = {"import_id": import_job.id, "export_id": export_job.id}
    newsletter = make_newsletter(world.newsletter_slug, topics=[food])
    sent = make_issue(newsletter, subject="Last month")
    mark_sent(sent)
    draft = make_issue(newsletter, subject="Next month")
    with session_scope() as session:
        block = session.exec(select(IssueBlock).where(IssueBlock.issue_id == draft.id)).first()
        block_id = block.id
    market = _marketplace(a)
    sharing = _sharing(a, riverside_id=_riverside_id())
    world.tokens["/r/"] = market.pop("click_token")
    world.tokens["/invitations/"] = _invitation(a, world.accounts["a_owner"])
    world.actions = {
        "/admin/members/": "suspend",
        "/admin/marketplace/bookings/": "cancel",
        "/admin/marketplace/slots/": "withdraw",
    }
    world.ids = {
        **market,
        **sharing,
        "slug": "member-a",
        "member_slug": "riverside",
        "topic_slug": "food",
        "topic_id": topics["food"],
        "subscriber_id": subscriber_id,
        **admin_jobs,
        "member_id": a.id,
        "account_id": other_staff.id,
        "key_id": target_key,
        "suggestion_id": _suggestion(a),
        "newsletter_id": newsletter.id,
        "issue_id": draft.id,
        "block_id": block_id,
        "number": sent.number,
        "size": _sequence_consent_log(),
    }
    return world


def _suggestion(a: Member) -> int:
    """A suggested correction to A's listing, waiting for A's owners."""
    from app.members.suggestions import ListingSuggestion

    with session_scope() as session:
        suggestion = ListingSuggestion(member_id=a.id, field="city", value="Toronto")
        session.add(suggestion)
        session.flush()
        return suggestion.id  # type: ignore[return-value]


def _sequence_consent_log() -> int:
    """Integrate the world's consents into the log, as the sequencer would."""
    with session_scope() as session:
        return consent_log.integrate(session, wait=True).size


def _invitation(a: Member, owner) -> str:  # type: ignore[no-untyped-def]
    """A pending invitation to A's team, for someone without an account."""
    with session_scope() as session:
        invitation = invitations.invite(
            session,
            member=session.get(Member, a.id),
            invited_by=session.get(Account, owner.id),
            email="invited@example.org",
        )
        return invitations.token_for(invitation)


def _riverside_id() -> int:
    with session_scope() as session:
        return session.exec(select(Member.id).where(Member.slug == "riverside")).one()


def _marketplace(a: Member) -> dict:
    """Member A's held booking, a creative A submitted (for its click
    link), and a free slot for the admin's slot actions."""
    _issue, slots = make_slots("market")
    booking = make_booking(a, slots[0])
    submitted = make_booking(a, slots[1], upto=BookingStatus.creative_submitted)
    with session_scope() as session:
        creative = session.exec(select(Creative).where(Creative.booking_id == submitted.id)).one()
        click_token = placement.click_token(creative.id)
    return {"booking_id": booking.id, "slot_id": slots[2].id, "click_token": click_token}


def _sharing(a: Member, *, riverside_id: int) -> dict:
    """An agreement another member offered A (A's owner may accept or revoke it, B is no
    party to it), and a mailing A submitted for review (A has one subscriber of its own)."""
    with session_scope() as session:
        riverside = session.get(Member, riverside_id)
    offered = agreement(riverside, a, None, accept=False)
    person("a-reader@example.org", [owned_topic("a-news", a)], sharing=False, member=a)
    mailing = submitted_mailing(a)
    return {"agreement_id": offered.id, "mailing_id": mailing.id}


def fill_path(path: str, world: World, token: str | None) -> str:
    ids = dict(world.ids)
    ids["action"] = next((v for p, v in world.actions.items() if path.startswith(p)), None)
    if path.startswith("/archive/"):
        ids["slug"] = world.newsletter_slug
    if path.startswith("/language/"):
        ids["code"] = "fr"
    if token is None and path.startswith("/r/"):
        token = world.tokens["/r/"]
    if token is not None:
        ids["token"] = token
    return path.format(**ids)
