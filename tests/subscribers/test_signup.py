"""Signing up on each of the three ways in, confirming from the mail, and the receipt."""

from sqlmodel import select

from app.consent.models import ConsentEvent, ConsentSource
from app.db import session_scope
from app.subscribers.models import Subscriber
from tests.subscribers.helpers import (
    confirm_from_mail,
    form_token,
    hidden,
    hosted_form,
    make_topics,
    statuses,
)


def _receipt_round_trip(client, confirmed_page, run_jobs):
    receipt_url = link_in_page(confirmed_page.text, "receipts")
    run_jobs()  # the confirmation's sequencing job seals it into the consent log
    download = client.get(receipt_url)
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    receipt = download.json()
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["jurisdiction"] and receipt["consentTimestamp"] and receipt["policyUrl"]
    assert receipt["policyUrl"].endswith("/privacy")  # the page made from SECURITY.md
    purposes = receipt["services"][0]["purposes"]
    assert purposes[0]["consentTextVersion"] == 1 and len(purposes[0]["consentTextDigest"]) == 64
    assert "@" not in str(receipt)  # no address in a receipt
    verdict = client.post("/api/v1/receipts/verify", json=receipt).json()
    assert verdict["genuine"] is True
    assert verdict["reason"].startswith("genuine and unaltered; included in the log at checkpoint")
    receipt["consentTimestamp"] = "2020-01-01T00:00:00.000000Z"
    verdict = client.post("/api/v1/receipts/verify", json=receipt).json()
    assert verdict["genuine"] is False and "altered" in verdict["reason"]
    return receipt


def link_in_page(html: str, path: str) -> str:
    import re

    match = re.search(rf'href="(/{path}/[^"]+)"', html)
    assert match, f"no /{path}/ link on the page"
    return match.group(1)


def test_hosted_page_signup_confirm_and_receipt(client, smtp, run_jobs):
    make_topics()
    form = client.get("/subscribe/housing")
    assert 'value="housing" checked' in form.text
    assert "Also let other member co-ops" in form.text and "greet you by name" in form.text
    response = client.post(
        "/subscribe",
        data=hosted_form(
            client,
            email="Reader@Example.org",
            topics=["food", "housing"],
            first_name="Ada",
            share_with_members="1",
        ),
    )
    assert response.status_code == 200 and "Check your inbox" in response.text
    run_jobs()  # the request's job records the requests and mails the link
    assert statuses("reader@example.org") == {
        "food": ("pending", "pending"),
        "housing": ("pending", "pending"),
    }
    (mail,) = smtp.wait_for("reader@example.org")
    assert "Food co-ops" in mail.text() and "Hello Ada" in mail.text()
    assert "/confirm/" in mail.html()
    confirmed = confirm_from_mail(client, smtp, "reader@example.org", run_jobs, share=True)
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert statuses("reader@example.org") == {
        "food": ("active", "active"),
        "housing": ("active", "active"),
    }
    receipt = _receipt_round_trip(client, confirmed, run_jobs)
    assert len(receipt["services"][0]["purposes"]) == 4
    # Member co-ops send offers through the Club and never see the address.
    assert not any(p["thirdPartyDisclosure"] for p in receipt["services"][0]["purposes"])
    sharing = [p for p in receipt["services"][0]["purposes"] if p["scope"] == "sharing"]
    assert all("never see my address" in p["consentText"] for p in sharing)


def test_embedded_plain_html_form_is_attributed_to_the_member(client, smtp, run_jobs):
    make_topics()
    # A plain form on the member's own site: no CSRF cookie, no timestamp; its signed
    # form token says whose form it is.
    response = client.post(
        "/subscribe/embed/riverside",
        data={
            "email": "neighbour@example.org",
            "topics": ["riverside-news"],
            "website": "",
            "form_token": form_token("riverside", ["riverside-news", "food"]),
        },
    )
    assert response.status_code == 200 and "Check your inbox" in response.text
    confirmed = confirm_from_mail(client, smtp, "neighbour@example.org", run_jobs)
    assert confirmed.status_code == 200
    assert statuses("neighbour@example.org") == {"riverside-news": ("active", None)}
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber)).one()
        assert subscriber.source_member_id is not None
        events = session.exec(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        assert [(e.action, e.source) for e in events] == [
            ("requested", ConsentSource.embed),
            ("confirmed", ConsentSource.embed),
        ]
        assert events[0].member_id == subscriber.source_member_id
    _receipt_round_trip(client, confirmed, run_jobs)


def test_embedded_iframe_form_is_frameable_and_carries_its_tokens(client, smtp, run_jobs):
    make_topics()
    page = client.get(f"/subscribe/embed/riverside?form_token={form_token('riverside', ['food'])}")
    assert page.status_code == 200
    assert "frame-ancestors *" in page.headers["content-security-policy"].split("; ")
    assert hidden(page.text, "csrf_token") and hidden(page.text, "form_ts")
    # Posted at once with the frame's own timestamp: faster than a person types, so the
    # form asks again (an autofilling browser is that fast too), keeping what was typed.
    quick = client.post(
        "/subscribe/embed/riverside",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "form_ts": hidden(page.text, "form_ts"),
            "email": "fast@example.org",
            "topics": ["food"],
        },
    )
    assert quick.status_code == 422 and "press the button again" in quick.text
    assert 'value="fast@example.org"' in quick.text and hidden(quick.text, "form_ts")
    run_jobs()
    assert statuses("fast@example.org") == {}
    bad_csrf = client.post(
        "/subscribe/embed/riverside",
        data={"csrf_token": "forged", "email": "x@example.org", "topics": ["food"]},
    )
    assert bad_csrf.status_code == 403


def test_json_api_signup_with_cors(client, smtp, run_jobs):
    make_topics()
    preflight = client.options(
        "/api/v1/subscribe",
        headers={"Origin": "https://riverside.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    response = client.post(
        "/api/v1/subscribe",
        json={"email": "api@example.org", "topics": ["food"]},
        headers={"Origin": "https://riverside.example"},
    )
    assert response.status_code == 202 and response.json() == {"status": "pending"}
    assert response.headers["access-control-allow-origin"] == "*"
    # Other endpoints are not opened to other origins.
    assert "access-control-allow-origin" not in client.get("/api/v1/topics").headers
    confirmed = confirm_from_mail(client, smtp, "api@example.org", run_jobs)
    assert confirmed.status_code == 200
    assert statuses("api@example.org") == {"food": ("active", None)}
    _receipt_round_trip(client, confirmed, run_jobs)


def test_topics_page_and_api_list_public_topics_only(client):
    make_topics()
    page = client.get("/topics")
    assert "Food co-ops" in page.text and "Unlisted list" not in page.text
    topics = client.get("/api/v1/topics").json()
    assert {t["slug"]: t["owner"] for t in topics} == {
        "food": None,
        "housing": None,
        "riverside-news": "riverside",
    }
    assert client.get("/subscribe/secret").status_code == 200  # unlisted: by link only
    assert client.get("/subscribe/nope", headers={"accept": "text/html"}).status_code == 404


def test_csrf_is_required_on_the_hosted_form(client):
    make_topics()
    data = hosted_form(client)
    data["csrf_token"] = "forged"
    assert client.post("/subscribe", data=data).status_code == 403
    assert statuses("reader@example.org") == {}


def test_the_plain_embed_snippet_works_as_pasted(client, smtp, run_jobs):
    import re

    from app.members.models import Member
    from app.subscribers.embed import EmbedForm, embed_snippets

    ids = make_topics()
    with session_scope() as session:
        from app.subscribers.models import Topic

        food = session.get(Topic, ids["food"])
        riverside = session.exec(select(Member).where(Member.slug == "riverside")).one()
        snippets = embed_snippets(EmbedForm(riverside, [food]))
    assert 'src="http://testserver/subscribe/embed/riverside?form_token=' in snippets["iframe"]
    action = re.search(r'action="http://testserver(/[^"]+)"', snippets["form"]).group(1)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', snippets["form"]))
    names = set(re.findall(r'name="([^"]+)"', snippets["form"]))
    assert names == {"email", "topics", "share_with_members", "website", "form_token", "language"}
    assert fields["topics"] == "food"  # the one topic the member chose, carried by the form
    response = client.post(
        action,
        data={"email": "pasted@example.org", "topics": "food", "form_token": fields["form_token"]},
    )
    assert "Check your inbox" in response.text
    assert confirm_from_mail(client, smtp, "pasted@example.org", run_jobs).status_code == 200
