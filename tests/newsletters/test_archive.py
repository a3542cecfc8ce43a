"""The public archive and Atom feed list only sent issues, without personal links."""

from xml.etree import ElementTree

from tests.newsletters.factories import (
    make_issue,
    make_newsletter,
    make_topic,
    mark_sent,
    schedule_soon,
)

ATOM = "{http://www.w3.org/2005/Atom}"


def test_archive_and_feed_list_only_sent_issues(client):
    newsletter = make_newsletter("commons", topics=[make_topic("food")])
    sent = make_issue(newsletter, subject="The first one", intro="Sent words")
    mark_sent(sent)
    schedule_soon(make_issue(newsletter, subject="Still scheduled"))
    make_issue(newsletter, subject="Just a draft")

    page = client.get("/archive/commons")
    assert page.status_code == 200
    assert "The first one" in page.text
    assert "Still scheduled" not in page.text and "Just a draft" not in page.text

    web = client.get("/archive/commons/1")
    assert web.status_code == 200 and "Sent words" in web.text
    assert "/u/" not in web.text and "/preferences/" not in web.text
    assert "unsubscribe-link-is-personal" not in web.text
    assert client.get("/archive/commons/2").status_code == 404
    assert client.get("/archive/commons/3").status_code == 404

    feed = client.get("/archive/commons/feed.atom")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(feed.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["The first one"]
    assert entries[0].find(f"{ATOM}link").get("href") == "http://testserver/archive/commons/1"


def test_unknown_newsletters_are_404(client):
    assert client.get("/archive/nothing").status_code == 404
    assert client.get("/archive/nothing/feed.atom").status_code == 404
