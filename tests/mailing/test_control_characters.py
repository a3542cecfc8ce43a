"""Names and subjects end up in email headers, so a control character is refused where
it is typed (422 naming the field, input kept), never found by a mail job later."""

from sqlmodel import select

from app.db import session_scope
from app.members.models import Member
from tests.members.factories import csrf, log_in, make_account, post_form
from tests.members.test_applications import APPLICATION
from tests.newsletters.factories import make_issue, make_newsletter, make_topic
from tests.subscribers.helpers import make_topics


def test_a_control_character_in_a_member_name_is_refused_at_apply(client):
    data = {**APPLICATION, "name": "Harbour\x07Bakery", "csrf_token": csrf(client)}
    response = client.post("/apply", data=data)
    assert response.status_code == 422
    assert 'aria-describedby="name-error"' in response.text
    assert "control characters" in response.text
    assert 'value="harbour-bakery"' in response.text  # the rest is kept
    with session_scope() as session:
        assert session.exec(select(Member)).all() == []


def test_a_control_character_in_a_first_name_is_refused_by_the_api(client):
    make_topics()
    body = {"email": "ana@example.org", "topics": ["food"], "first_name": "Ana\x1b[31m"}
    response = client.post("/api/v1/subscribe", json=body)
    assert response.status_code == 422
    assert "first_name" in response.text and "control characters" in response.text


def test_invisible_direction_overrides_in_a_first_name_are_refused_by_the_api(client):
    make_topics()
    for name in ("\u202eevil\u200b", "Ana\u2066x\u2069", "\ufeffAna"):
        body = {"email": "ana@example.org", "topics": ["food"], "first_name": name}
        response = client.post("/api/v1/subscribe", json=body)
        assert response.status_code == 422, name
        assert "first_name" in response.text and "direction overrides" in response.text
    # Scripts that need the zero-width (non-)joiner keep it.
    body = {
        "email": "ana@example.org",
        "topics": ["food"],
        "first_name": "\u0645\u06cc\u200c\u062e",
    }
    assert client.post("/api/v1/subscribe", json=body).status_code == 202


def test_a_control_character_in_an_issue_subject_is_refused(client):
    log_in(client, make_account("editor@club.test", role="admin"))
    issue = make_issue(make_newsletter("commons", topics=[make_topic("food")]))
    response = post_form(
        client, f"/admin/issues/{issue.id}", {"subject": "Spring\u2028news", "preheader": ""}
    )
    assert response.status_code == 422
    assert "control characters" in response.text
