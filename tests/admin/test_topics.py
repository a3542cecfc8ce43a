"""Admins open, edit, hide and archive topics; the public pages follow; the CLI does too."""

from click.testing import CliRunner
from sqlmodel import select

from app.cli import cli
from app.db import session_scope
from app.members.models import Role
from app.subscribers.models import Topic
from tests.members.factories import csrf_for_logged_in, log_in, make_account, make_member
from tests.subscribers.helpers import confirm_from_mail, statuses


def _admin(client):
    log_in(client, make_account("admin@club.example.org", role=Role.admin))


def _open(client, slug: str, name: str):
    return client.post(
        "/admin/topics", data={"csrf_token": csrf_for_logged_in(client), "slug": slug, "name": name}
    )


def _topic(slug: str) -> Topic | None:
    with session_scope() as session:
        return session.exec(select(Topic).where(Topic.slug == slug)).first()


def test_an_admin_opens_a_topic_and_people_can_subscribe(client, smtp, run_jobs):
    _admin(client)
    make_member("riverside", name="Riverside Food Co-op")
    page = client.post(
        "/admin/topics",
        data={
            "csrf_token": csrf_for_logged_in(client),
            "slug": "river-news",
            "name": "River news",
            "description": "What the river co-ops are up to.",
            "owner": "riverside",
            "public": "on",
        },
    )
    assert page.status_code == 200 and "River news is open at /subscribe/river-news" in page.text
    topic = _topic("river-news")
    assert topic.member_id is not None and topic.description.startswith("What the river")
    assert "River news" in client.get("/topics").text
    assert client.get("/api/v1/topics").json()[0]["owner"] == "riverside"
    response = client.post(
        "/api/v1/subscribe", json={"email": "ana@example.org", "topics": ["river-news"]}
    )
    assert response.status_code == 202
    confirm_from_mail(client, smtp, "ana@example.org", run_jobs)
    assert statuses("ana@example.org") == {"river-news": ("active", None)}


def test_bad_topic_forms_show_every_problem_and_keep_the_input(client):
    _admin(client)
    client.post(
        "/admin/topics",
        data={"csrf_token": csrf_for_logged_in(client), "slug": "food", "name": "Food"},
    )
    page = client.post(
        "/admin/topics",
        data={
            "csrf_token": csrf_for_logged_in(client),
            "slug": "Food Co-ops!",
            "name": "",
            "description": "x" * 1200,
            "owner": "nobody",
        },
    )
    assert page.status_code == 422
    for words in (
        "Web address: use lowercase letters",
        "Name: give the topic a name",
        "Description: at most 1,000 characters (this one has 1,200)",
        "Owner: there is no member co-op",
    ):
        assert words in page.text
    assert 'value="Food Co-ops!"' in page.text
    taken = client.post(
        "/admin/topics",
        data={"csrf_token": csrf_for_logged_in(client), "slug": "food", "name": "x"},
    )
    assert taken.status_code == 422 and "another topic already uses it" in taken.text
    hidden = client.post(
        "/admin/topics",
        data={
            "csrf_token": csrf_for_logged_in(client),
            "slug": "tabs",
            "name": "Bad\tname",
            "description": "Two lines\nare fine, but not \x01 or \u202ereversed text",
        },
    )
    assert hidden.status_code == 422 and _topic("tabs") is None
    assert "Name: must be one line of text" in hidden.text
    assert "Description: must be plain text" in hidden.text


def test_the_slug_is_fixed_once_someone_subscribed(client, smtp, run_jobs):
    _admin(client)
    client.post(
        "/admin/topics",
        data={"csrf_token": csrf_for_logged_in(client), "slug": "food", "name": "Food"},
    )
    topic = _topic("food")
    renamed = client.post(
        f"/admin/topics/{topic.id}",
        data={"csrf_token": csrf_for_logged_in(client), "slug": "groceries", "name": "Groceries"},
    )
    assert renamed.status_code == 200 and _topic("groceries") is not None  # nobody used it yet
    client.post("/api/v1/subscribe", json={"email": "ana@example.org", "topics": ["groceries"]})
    run_jobs()  # the signup's job records the subscription
    page = client.get(f"/admin/topics/{topic.id}")
    assert "Fixed: people subscribed through it" in page.text
    moved = client.post(
        f"/admin/topics/{topic.id}",
        data={"csrf_token": csrf_for_logged_in(client), "slug": "food", "name": "Food co-ops"},
    )
    assert moved.status_code == 422 and "can no longer change" in moved.text
    assert _topic("groceries").name == "Groceries"


def test_a_hidden_topic_keeps_its_subscribers_but_leaves_the_public_pages(client, smtp, run_jobs):
    _admin(client)
    client.post(
        "/admin/topics",
        data={"csrf_token": csrf_for_logged_in(client), "slug": "food", "name": "Food"},
    )
    client.post("/api/v1/subscribe", json={"email": "ana@example.org", "topics": ["food"]})
    confirm_from_mail(client, smtp, "ana@example.org", run_jobs)
    topic = _topic("food")
    page = client.post(
        f"/admin/topics/{topic.id}/status",
        data={"csrf_token": csrf_for_logged_in(client), "status": "hidden"},
    )
    assert "Food is hidden" in page.text
    assert "Food" not in client.get("/topics").text
    assert client.get("/api/v1/topics").json() == []
    assert client.get("/subscribe/food").status_code == 404
    refused = client.post("/api/v1/subscribe", json={"email": "bo@example.org", "topics": ["food"]})
    assert refused.status_code == 422 and "unknown topic: food" in refused.text
    assert statuses("ana@example.org") == {"food": ("active", None)}  # she stays
    client.post(
        f"/admin/topics/{topic.id}/status",
        data={"csrf_token": csrf_for_logged_in(client), "status": "open"},
    )
    assert client.get("/subscribe/food").status_code == 200


def test_only_admins_manage_topics(client):
    log_in(client, make_account("owner@riverside.example.org", member=make_member("riverside")))
    assert client.get("/admin/topics").status_code == 403
    refused = client.post(
        "/admin/topics", data={"csrf_token": csrf_for_logged_in(client), "slug": "x", "name": "X"}
    )
    assert refused.status_code == 403 and _topic("x") is None


def test_the_topics_command_adds_lists_and_hides():
    runner = CliRunner()
    added = runner.invoke(
        cli, ["topics", "add", "housing", "--name", "Housing", "--description", "Homes we own"]
    )
    assert added.exit_code == 0, added.output
    assert "opened housing: Housing" in added.output
    again = runner.invoke(cli, ["topics", "add", "housing", "--name", "Again"])
    assert again.exit_code != 0 and "another topic already uses it" in again.output
    listed = runner.invoke(cli, ["topics", "list"])
    assert "housing\topen\tactive=0 pending=0\tHousing" in listed.output
    hidden = runner.invoke(cli, ["topics", "hide", "housing"])
    assert hidden.exit_code == 0 and _topic("housing").status == "hidden"
    assert "housing\thidden" in runner.invoke(cli, ["topics", "list"]).output
    unknown = runner.invoke(cli, ["topics", "hide", "nope"])
    assert unknown.exit_code != 0 and "unknown topic: nope" in unknown.output


def test_a_member_dashboard_says_how_a_topic_of_its_own_is_opened(client):
    member = make_member("riverside", name="Riverside")
    log_in(client, make_account("owner@riverside.example.org", member=member))
    page = client.get("/member")
    assert "ask the Club" not in page.text
    assert "opened by a Club" in page.text and "admin Topics page" in page.text
