"""An idempotent seed of realistic demo data, so `make run` shows a living Club."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr

from sqlmodel import Session, select

from app import flows
from app.config import get_settings
from app.consent.models import ConsentAction, ConsentScope, ConsentSource
from app.consent.service import current_text, record_consent, token_digest
from app.db import utcnow
from app.members.models import Account, Member, MemberStatus, Role
from app.newsletters import service as newsletters
from app.newsletters.models import BlockKind, IssueStatus, Newsletter
from app.sending import lifecycle
from app.subscribers.confirmation import new_link
from app.subscribers.models import Subscriber, Topic
from app.subscribers.service import address_hmac

DEMO_MEMBERS = [
    dict(
        slug="riverside-food-coop",
        name="Riverside Food Co-op",
        kind="consumer",
        country="CA",
        region="CA-ON",
        city="Toronto",
        sectors=",food,retail,",
        languages=",en,fr-CA,",
        offer="Wholesale bulk foods for other co-ops' kitchens and events.",
        founded_year=1978,
        show_country=True,
        show_city=True,
        show_sectors=True,
        show_languages=True,
        show_offer=True,
        show_founded=True,
        website="https://riverside-food.example.org",
        description="A member-owned grocery with 4,000 households and a bulk-foods aisle "
        "that has been running since 1978.",
    ),
    dict(
        slug="northwind-energy",
        name="Northwind Community Energy",
        kind="multi-stakeholder",
        country="CA",
        region="CA-NS",
        city="Halifax",
        sectors=",energy,",
        offer="Community solar feasibility studies.",
        show_country=True,
        show_city=True,
        show_sectors=True,
        show_offer=True,
        website="https://northwind-energy.example.org",
        description="Community-owned wind and solar; members share the output and the say.",
    ),
    dict(
        slug="maple-housing",
        name="Maple Street Housing Co-operative",
        kind="housing",
        country="CA",
        region="CA-BC",
        sectors=",housing,",
        show_country=True,
        show_sectors=True,
        website="https://maple-housing.example.org",
        description="Ninety homes, one association, and a waiting list we are working on.",
        show_website=False,
    ),
    dict(
        slug="commons-credit-union",
        name="Commons Credit Union",
        kind="credit-union",
        country="CA",
        region="CA-ON",
        city="Ottawa",
        sectors=",finance,",
        languages=",en,fr,",
        show_country=True,
        show_city=True,
        show_sectors=True,
        show_languages=True,
        website="https://commons-cu.example.org",
        description="Banking that stays in the neighbourhood.",
    ),
    dict(
        slug="harbour-bakery",
        name="Harbour Bakery Workers' Co-op",
        kind="worker",
        country="CA",
        region="CA-NS",
        sectors=",food,",
        website="https://harbour-bakery.example.org",
        description="Eleven bakers, one oven, and bread on the table by six.",
        status=MemberStatus.applied,
    ),
]

DEMO_ACCOUNTS = [
    dict(email="admin@coopdata.example.org", display_name="Club admin", role=Role.admin),
    dict(
        email="owner@riverside-food.example.org",
        display_name="Amara Okafor",
        role=Role.owner,
        member="riverside-food-coop",
    ),
    dict(
        email="staff@riverside-food.example.org",
        display_name="Jon Tremblay",
        role=Role.staff,
        member="riverside-food-coop",
    ),
    dict(
        email="owner@northwind-energy.example.org",
        display_name="Siobhan MacLeod",
        role=Role.owner,
        member="northwind-energy",
    ),
    dict(
        email="owner@harbour-bakery.example.org",
        display_name="Fern Doucette",
        role=Role.owner,
        member="harbour-bakery",
    ),
]


def seed_members(session: Session) -> dict[str, Member]:
    members: dict[str, Member] = {}
    for data in DEMO_MEMBERS:
        member = session.exec(select(Member).where(Member.slug == data["slug"])).first()
        if member is None:
            member = Member(**{"status": MemberStatus.active, **data})
            session.add(member)
            session.flush()
        members[member.slug] = member
    for data in DEMO_ACCOUNTS:
        data = dict(data)
        member_slug = data.pop("member", None)
        if session.exec(select(Account).where(Account.email == data["email"])).first():
            continue
        member_id = members[member_slug].id if member_slug else None
        session.add(Account(member_id=member_id, **data))
    session.flush()
    return members


DEMO_TOPICS = [
    dict(
        slug="food-coops",
        name="Food co-ops",
        description="Grocery and farm co-ops: new stores, seasonal produce, member events.",
    ),
    dict(
        slug="housing",
        name="Housing",
        description="Housing co-ops: openings, waiting lists, and how to start one.",
    ),
    dict(
        slug="energy-climate",
        name="Energy & climate",
        description="Community-owned wind and solar, retrofits, and climate action.",
    ),
    dict(
        slug="coops-in-ontario",
        name="Co-ops in Ontario",
        description="News from member co-ops across Ontario.",
    ),
    dict(
        slug="riverside-kitchen",
        name="Riverside kitchen notes",
        description="Recipes and bulk-aisle specials from Riverside Food Co-op.",
        member="riverside-food-coop",
    ),
    dict(
        slug="northwind-members",
        name="Northwind member updates",
        description="Output reports and meeting notices from Northwind Community Energy.",
        member="northwind-energy",
        public=False,
    ),
]

# (address, first name, topics, shares with members, the member whose form recruited them)
DEMO_SUBSCRIBERS = [
    ("priya@example.org", "Priya", ["food-coops", "coops-in-ontario"], True, None),
    ("marc@example.org", None, ["housing"], False, None),
    ("lena@example.org", "Lena", ["energy-climate", "food-coops"], False, "northwind-energy"),
    (
        "tomas@example.org",
        "Tomás",
        ["riverside-kitchen", "food-coops"],
        True,
        "riverside-food-coop",
    ),
    ("aiyana@example.org", "Aiyana", ["energy-climate", "coops-in-ontario"], True, None),
    ("bea@example.org", None, ["food-coops", "housing"], False, None),
    ("chen@example.org", "Chen", ["coops-in-ontario"], False, "commons-credit-union"),
    ("dara@example.org", "Dara", ["food-coops", "energy-climate"], True, None),
    ("eli@example.org", None, ["housing", "coops-in-ontario"], False, None),
    ("fatima@example.org", "Fatima", ["food-coops"], False, "riverside-food-coop"),
    ("gus@example.org", "Gus", ["energy-climate"], False, "northwind-energy"),
    ("hana@example.org", "Hana", ["food-coops", "coops-in-ontario", "housing"], True, None),
]


def seed_topics(session: Session, members: dict[str, Member]) -> dict[str, Topic]:
    topics: dict[str, Topic] = {}
    for data in DEMO_TOPICS:
        data = dict(data)
        owner = data.pop("member", None)
        topic = session.exec(select(Topic).where(Topic.slug == data["slug"])).first()
        if topic is None:
            topic = Topic(member_id=members[owner].id if owner else None, **data)
            session.add(topic)
            session.flush()
        topics[topic.slug] = topic
    return topics


def seed_subscribers(
    session: Session, members: dict[str, Member], topics: dict[str, Topic]
) -> None:
    """Confirmed demo subscribers with a real ledger history (requested, then confirmed,
    through record_consent), so `coopclub consent verify` passes on the demo."""
    for email, first_name, slugs, shares, recruiter in DEMO_SUBSCRIBERS:
        if session.exec(select(Subscriber).where(Subscriber.email == email)).first():
            continue
        member = members[recruiter] if recruiter else None
        subscriber = Subscriber(
            email=email,
            address_hmac=address_hmac(email),
            first_name=first_name,
            source_member_id=member.id if member else None,
        )
        session.add(subscriber)
        session.flush()
        digest = token_digest(new_link(session, subscriber))
        source = ConsentSource.embed if member else ConsentSource.form
        scopes = [ConsentScope.topic] + ([ConsentScope.sharing] if shares else [])
        confirmed = []
        for action in (ConsentAction.requested, ConsentAction.confirmed):
            for slug in slugs:
                for scope in scopes:
                    event = record_consent(
                        session,
                        subscriber=subscriber,
                        scope=scope,
                        action=action,
                        source=source,
                        consent_text=current_text(session, scope),
                        token_digest=digest,
                        topic=topics[slug],
                        member=member,
                    )
                    if action == ConsentAction.confirmed:
                        confirmed.append(event)
        flows.confirmed(session, subscriber=subscriber, events=confirmed)  # recruits: pending


DEMO_ISSUES = [
    (
        "Spring at the co-ops",
        "Seed swaps are back at **Riverside Food Co-op**, Northwind's second turbine is "
        "turning, and three housing co-ops are taking names for their waiting lists.",
        IssueStatus.sent,
    ),
    (
        "Summer markets and member meetings",
        "Where to find co-op stalls at this summer's farmers' markets, and the dates of "
        "the annual member meetings.",
        IssueStatus.draft,
    ),
]


def seed_newsletter(session: Session, topics: dict[str, Topic]) -> None:
    """A newsletter with one issue in the archive and the next one in draft."""
    if newsletters.get_by_slug(session, "commons"):
        return
    newsletter = Newsletter(
        slug="commons",
        name="The Co-op Commons",
        description="A monthly round-up from the co-operative economy.",
        sender_name="Co-op Data Club",
        # The Club's own address: the one domain it is sure to sign for (alignment).
        sender_address=parseaddr(get_settings().mail_from)[1],
    )
    newsletters.save_newsletter(
        session,
        newsletter,
        topic_ids=[topics[s].id for s in ("food-coops", "coops-in-ontario", "energy-climate")],  # type: ignore[misc]
    )
    for subject, body, status in DEMO_ISSUES:
        issue = newsletters.create_issue(session, newsletter, subject=subject)
        first = newsletters.blocks_of(session, issue.id or 0)[0]
        first.body = body
        for block in newsletters.blocks_of(session, issue.id or 0):
            if block.kind == BlockKind.text and block.position > 1:
                block.heading = "From the members"
                block.body = "Tell us what your co-op is up to: reply to this email."
        session.flush()
        if status == IssueStatus.sent:
            # Really sent, by the send pipeline, to the demo's subscribers: its report,
            # progress and archive page then agree (the jobs run when the seed commits).
            newsletters.schedule(
                session, issue, send_at=utcnow() + timedelta(minutes=5), timezone="UTC"
            )
            lifecycle.start(session, issue)
            session.flush()


def seed_marketplace(session: Session, members: dict[str, Member]) -> None:
    """The Commons' next issue scheduled a week out with free slots, one booking with an
    approved creative (paid with credits), and a credit balance for Riverside."""
    from app.marketplace import inventory
    from app.marketplace import service as marketplace
    from app.marketplace.models import CreativeInput
    from app.payments import credits
    from app.payments.models import PaymentMethod

    newsletter = newsletters.get_by_slug(session, "commons")
    if newsletter is None or any(
        i.subject == "Autumn: bakeries, batteries and budgets"
        for i in newsletters.issues_of(session, newsletter.id or 0)
    ):
        return
    issue = newsletters.create_issue(
        session, newsletter, subject="Autumn: bakeries, batteries and budgets"
    )
    for block in newsletters.blocks_of(session, issue.id or 0):
        if block.kind.value == "text":
            block.body = "Seed swaps, new members and a bakery that opens on Saturdays."
    session.flush()
    newsletters.schedule(session, issue, send_at=utcnow() + timedelta(days=7), timezone="UTC")
    slots = inventory.ensure_slots(session, issue)
    riverside = members["riverside-food-coop"]
    credits.add(
        session, member_id=riverside.id or 0, amount=60_000, reason="Demo: recruited subscribers"
    )
    booking = marketplace.book(session, member=riverside, slot_id=slots[0].id or 0)
    marketplace.pay(session, booking, method=PaymentMethod.credits)
    marketplace.submit_creative(
        session,
        booking,
        CreativeInput(
            headline="Riverside's bakery opens on Saturdays",
            body="Fresh sourdough from our own ovens. Members get their first loaf free.",
            link="https://riverside-food.example.org/bakery",
        ),
    )
    marketplace.approve(session, booking)


def seed(session: Session) -> None:
    members = seed_members(session)
    topics = seed_topics(session, members)
    seed_subscribers(session, members, topics)
    seed_newsletter(session, topics)
    seed_marketplace(session, members)
    seed_sharing(session, members, topics)


def seed_sharing(session: Session, members: dict[str, Member], topics: dict[str, Topic]) -> None:
    """An active agreement (Riverside shares its kitchen list with Northwind)."""
    from datetime import timedelta

    from app.db import utcnow
    from app.sharing import service as sharing
    from app.sharing.models import SharingAgreement

    riverside, northwind = members["riverside-food-coop"], members["northwind-energy"]
    if session.exec(select(SharingAgreement)).first() is None:
        agreement = sharing.offer(
            session,
            member=riverside,
            receiving_slug=northwind.slug,
            topic_slug="riverside-kitchen",
            purpose_category="offers",
            purpose="Northwind's community solar offers for Riverside's kitchen subscribers.",
            ends_at=utcnow() + timedelta(days=365),
        )
        sharing.accept(session, agreement=agreement, member_id=northwind.id or 0)
