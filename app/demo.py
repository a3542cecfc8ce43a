"""An idempotent seed of realistic demo data, so `make run` shows a living Club."""

from __future__ import annotations

from sqlmodel import Session, select

from app.members.models import Account, Member, MemberStatus, Role

DEMO_MEMBERS = [
    dict(
        slug="riverside-food-coop",
        name="Riverside Food Co-op",
        kind="Food co-op",
        region="Ontario",
        website="https://riverside-food.example.org",
        description="A member-owned grocery with 4,000 households and a bulk-foods aisle "
        "that has been running since 1978.",
    ),
    dict(
        slug="northwind-energy",
        name="Northwind Community Energy",
        kind="Energy co-op",
        region="Nova Scotia",
        website="https://northwind-energy.example.org",
        description="Community-owned wind and solar; members share the output and the say.",
    ),
    dict(
        slug="maple-housing",
        name="Maple Street Housing Co-operative",
        kind="Housing co-op",
        region="British Columbia",
        website="https://maple-housing.example.org",
        description="Ninety homes, one association, and a waiting list we are working on.",
        show_website=False,
    ),
    dict(
        slug="commons-credit-union",
        name="Commons Credit Union",
        kind="Credit union",
        region="Ontario",
        website="https://commons-cu.example.org",
        description="Banking that stays in the neighbourhood.",
    ),
]

DEMO_ACCOUNTS = [
    dict(email="admin@coopdata.club.invalid", display_name="Club admin", role=Role.admin),
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
]


def seed_members(session: Session) -> dict[str, Member]:
    members: dict[str, Member] = {}
    for data in DEMO_MEMBERS:
        member = session.exec(select(Member).where(Member.slug == data["slug"])).first()
        if member is None:
            member = Member(status=MemberStatus.active, **data)
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


def seed(session: Session) -> None:
    seed_members(session)
