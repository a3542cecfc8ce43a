"""Who a signup is attributed to: a member's API key or its snippet's signed form token,
never a member's slug named in the request (finding 9 of issue 14: credits farmed by
sending `"source": "<slug>"` for throwaway addresses)."""

from sqlmodel import select

from app.db import session_scope
from app.jobs import run_sweeps
from app.subscribers.models import Subscriber
from tests.members.factories import make_key, make_member
from tests.newsletters.factories import make_topic
from tests.recruiting.helpers import balance, end_the_hold, recruits, sign_up_and_confirm
from tests.subscribers.helpers import confirm_from_mail, form_token


def _source_member(email: str) -> int | None:
    with session_scope() as session:
        return (
            session.exec(select(Subscriber).where(Subscriber.email == email)).one().source_member_id
        )


def test_naming_a_member_in_the_body_earns_it_nothing(client, smtp, run_jobs):
    coop = make_member("riverside")
    make_topic("food")
    for n in range(3):  # throwaway addresses on a domain the member controls, confirmed
        sign_up_and_confirm(
            client, smtp, run_jobs, f"throwaway{n}@riverside.example", source="riverside"
        )
    # The field is ignored, not refused: the people are subscribed, nobody earns.
    assert recruits() == []
    assert _source_member("throwaway0@riverside.example") is None
    end_the_hold()
    run_sweeps()
    assert balance(coop) == 0


def test_the_api_key_attributes_the_signup(client, smtp, run_jobs):
    coop = make_member("riverside")
    make_topic("food")
    _key_id, secret = make_key(coop)
    sign_up_and_confirm(
        client, smtp, run_jobs, "keyed@example.org", headers={"Authorization": f"Bearer {secret}"}
    )
    assert recruits() == [(coop.id, "pending", 500)]
    assert _source_member("keyed@example.org") == coop.id


def test_a_key_that_is_not_valid_is_refused_rather_than_ignored(client):
    make_member("riverside")
    make_topic("food")
    response = client.post(
        "/api/v1/subscribe",
        json={"email": "x@example.org", "topics": ["food"]},
        headers={"Authorization": "Bearer not-a-key"},
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_form_token_attributes_the_signup_and_limits_its_topics(client, smtp, run_jobs):
    coop = make_member("riverside")
    make_topic("food")
    make_topic("housing")
    token = form_token("riverside", ["food"])
    # In the JSON API (a member's own script) ...
    outside = client.post(
        "/api/v1/subscribe",
        json={"email": "a@example.org", "topics": ["housing"], "form_token": token},
    )
    assert outside.status_code == 422 and "does not offer: housing" in outside.text
    sign_up_and_confirm(client, smtp, run_jobs, "a@example.org", form_token=token)
    # ... and in the pasted HTML form.
    response = client.post(
        "/subscribe/embed/riverside",
        data={"email": "b@example.org", "topics": "food", "form_token": token},
    )
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert confirm_from_mail(client, smtp, "b@example.org", run_jobs).status_code == 200
    assert recruits() == [(coop.id, "pending", 500), (coop.id, "pending", 500)]


def test_the_embed_form_without_a_token_is_the_clubs_and_a_forged_one_is_refused(
    client, smtp, run_jobs
):
    make_member("riverside")
    other = make_member("northwind")
    make_topic("food")
    bare = client.post(
        "/subscribe/embed/riverside", data={"email": "c@example.org", "topics": "food"}
    )
    assert bare.status_code == 200 and "Check your inbox" in bare.text
    assert confirm_from_mail(client, smtp, "c@example.org", run_jobs).status_code == 200
    assert recruits() == [] and _source_member("c@example.org") is None
    # Another member's token under this member's address, or a tampered token: refused.
    theirs = form_token("northwind", ["food"])
    for token in (theirs, theirs[:-2] + "xx"):
        refused = client.post(
            "/subscribe/embed/riverside",
            data={"email": "d@example.org", "topics": "food", "form_token": token},
            headers={"accept": "text/html"},
        )
        assert refused.status_code == 400 and "signup form is damaged" in refused.text
    assert recruits() == [] and other.id is not None


def test_a_person_is_anyones_recruit_once_ever(client, smtp, run_jobs):
    first, second = make_member("riverside"), make_member("northwind")
    make_topic("food")
    make_topic("housing")
    for member, topic in ((first, "food"), (second, "housing")):
        auth = {"Authorization": f"Bearer {make_key(member)[1]}"}
        sign_up_and_confirm(
            client, smtp, run_jobs, "sought@example.org", topics=[topic], headers=auth
        )
    assert recruits() == [(first.id, "pending", 500)]
