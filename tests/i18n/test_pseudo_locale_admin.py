"""The staff pages under the pseudo-locale (`coopclub_lang=qps`): what the admin area, the
newsletter editor and the sending page show outside ⟦ ⟧ must be data (names, addresses,
dates, counts, codes), never words someone forgot to wrap. And a real French page and a
real Spanish form error, as an admin would read them."""

from __future__ import annotations

import re

from sqlmodel import select

from app.db import session_scope
from app.members.models import MemberStatus, Role
from app.newsletters.editor import COMMON_TIMEZONES
from app.subscribers.models import Subscriber, Topic
from tests.admin.helpers import as_admin, reader
from tests.i18n.test_pseudo_locale import unwrapped
from tests.members.factories import csrf_for_logged_in, make_account, make_member
from tests.subscribers.helpers import make_topics

INNERMOST = re.compile(r"⟦[^⟦⟧]*⟧")
DATA = [
    "admin@club.example.org",
    "ana@example.org",
    "bo@example.org",
    "owner@applicant.example.org",
    "Applicant",
    "applicant",
    "Riverside Food Co-op",
    "riverside",
    "food",
    "housing",
    "riverside-news",
    "secret",
    "people.csv",
    "UTC",
    "/subscribe/food",
    "—",
    "→",
    "←",
    "<",
    ">",
    "…",
    # Not ours: the member's change log (templates/members/_changes.html, the members'
    # pages) and the address checker's own words for an invalid import row.
    "Changes to the directory listing",
    "No changes yet.",
    "An email address must have an @-sign.",
    "You are logged in as",  # app/auth/pages.py's login flash, not wrapped yet
]


def _pages(client, paths: list[str], *data: str) -> dict[str, list[str]]:
    client.cookies.set("coopclub_lang", "qps")
    problems = {}
    for path in paths:
        page = client.get(path)
        assert page.status_code in (200, 409), (path, page.status_code)
        assert '<html lang="qps">' in page.text, path
        # A chart's axis and legend are data: days in the reader's format, topic names.
        text = re.sub(r"<text[^>]*>[^<]*</text>", "", page.text)
        # The editor's plain-text preview is the email, in the newsletter's language.
        text = re.sub(r'<pre id="preview-text"[^>]*>.*?</pre>', "", text, flags=re.S)
        # A message with a translated word inside (“Members: ⟦applied⟧”) nests brackets.
        while INNERMOST.search(text):
            text = INNERMOST.sub(" ", text)
        left = unwrapped(text, *DATA, *data)
        if left:
            problems[path] = left
    return problems


def _admin_with_data(client, smtp, run_jobs) -> dict[str, int]:
    topics = make_topics()
    ana = reader(client, smtp, run_jobs, "ana@example.org", ["food"])
    applicant = make_member("applicant", status=MemberStatus.applied)
    make_account("owner@applicant.example.org", role=Role.owner, member=applicant)
    as_admin(client)
    with session_scope() as session:
        member_id = session.exec(
            select(Topic.member_id).where(Topic.slug == "riverside-news")
        ).one()
    return {"ana": ana, "food": topics["food"], "applicant": applicant.id, "riverside": member_id}


def test_the_admin_pages_show_no_unwrapped_words(client, smtp, run_jobs):
    ids = _admin_with_data(client, smtp, run_jobs)
    client.cookies.set("coopclub_lang", "qps")  # the flashes too
    upload = client.post(
        "/admin/import",
        data={"csrf_token": csrf_for_logged_in(client), "topics": [str(ids["food"])]},
        files={"file": ("people.csv", b"email\nbo@example.org\nnot-an-address\n", "text/csv")},
        follow_redirects=False,
    )
    assert upload.status_code == 303
    run_jobs()
    export = client.post(
        "/admin/exports", data={"csrf_token": csrf_for_logged_in(client)}, follow_redirects=False
    )
    assert export.status_code == 303
    run_jobs()
    problems = _pages(
        client,
        [
            "/admin",
            "/admin/applications",
            "/admin/members",
            "/admin/members?status=applied",
            f"/admin/members/{ids['applicant']}",
            f"/admin/members/{ids['riverside']}",
            "/admin/accounts",
            "/admin/topics",
            f"/admin/topics/{ids['food']}",
            "/admin/subscribers",
            "/admin/subscribers?q=nobody",
            f"/admin/subscribers/{ids['ana']}",
            "/admin/suppressions",
            "/admin/suppressions?address=ana@example.org",
            "/admin/import",
            upload.headers["location"],
            export.headers["location"],
        ],
    )
    assert not problems, problems


def test_an_admin_reads_the_subscriber_record_in_french(client, smtp, run_jobs):
    ids = _admin_with_data(client, smtp, run_jobs)
    client.cookies.set("coopclub_lang", "fr")
    page = client.get(f"/admin/subscribers/{ids['ana']}")
    assert '<html lang="fr">' in page.text
    for words in ("Abonnements", "Historique des consentements", "Effacer", "confirmé", "actif"):
        assert words in page.text, words
    with session_scope() as session:
        assert session.get(Subscriber, ids["ana"]) is not None


def test_a_topic_form_error_in_spanish(client):
    make_topics()
    as_admin(client)
    client.cookies.set("coopclub_lang", "es")
    page = client.post(
        "/admin/topics",
        data={"csrf_token": csrf_for_logged_in(client), "slug": "Bad Slug!", "name": ""},
    )
    assert page.status_code == 422
    assert "Corrige los campos marcados abajo." in page.text
    assert "Nombre: da al tema un nombre que la gente reconozca." in page.text
    assert "Dirección web: usa letras minúsculas" in page.text


def test_the_newsletter_and_sending_pages_show_no_unwrapped_words(client, smtp, run_jobs):
    from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
    from tests.sending import factories as people

    topic = make_topic("food", "Food co-ops")
    newsletter = make_newsletter(topics=[topic])
    people.active("ana@example.org", [topic])
    draft = make_issue(newsletter, subject="Draft subject")
    sent = schedule_soon(make_issue(newsletter, subject="Sent subject"))
    people.start_now(sent)
    run_jobs()
    client.cookies.set("coopclub_lang", "qps")  # the login's flash too
    as_admin(client)
    problems = _pages(
        client,
        [
            "/admin/newsletters",
            "/admin/newsletters/new",
            f"/admin/newsletters/{newsletter.id}",
            f"/admin/newsletters/{newsletter.id}/edit",
            f"/admin/issues/{draft.id}",
            f"/admin/issues/{sent.id}",
            f"/admin/issues/{draft.id}/report",
            f"/admin/issues/{sent.id}/report",
            f"/admin/issues/{sent.id}/sending",
            f"/admin/issues/{draft.id}/sending",
        ],
        "The Co-op Commons",
        "commons",
        "Co-op Data Club",
        "news@club.example.org",
        "Draft subject",
        "Sent subject",
        "Welcome to this issue.",
        "Food co-ops",
        *COMMON_TIMEZONES,  # IANA names, data
    )
    assert not problems, problems
