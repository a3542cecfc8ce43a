"""Every bulk email's footer says truly why this person receives it (read from the mail
that arrived): their own topics of the newsletter only; for a member mailing reached
through sharing, the sharing consent and the links that stop the member's offers, never
"because you subscribed to <Member>"."""

import re

from tests.members.factories import make_member
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people
from tests.sharing.helpers import agreement, approve, owned_topic, person, submitted_mailing


def _footer(text: str) -> str:
    return text.rsplit("\n--\n", 1)[-1]


def test_a_newsletter_footer_names_only_the_readers_own_topics(smtp, run_jobs):
    food, housing = make_topic("food"), make_topic("housing")
    people.active("food-only@example.org", [food])
    people.active("both@example.org", [food, housing])
    issue = make_issue(make_newsletter("commons", topics=[food, housing]))
    run_jobs()
    smtp.clear()
    people.start_now(schedule_soon(issue))
    run_jobs()
    (food_only,) = smtp.wait_for("food-only@example.org")
    footer = _footer(food_only.text())
    assert "because you subscribed to Food at the Co-op Data Club" in footer
    assert "Housing" not in footer
    assert "because you subscribed to Food at" in food_only.html()
    (both,) = smtp.wait_for("both@example.org")
    assert "because you subscribed to Food and Housing" in _footer(both.text())
    # The one-click link withdraws exactly what the footer names.
    assert "Unsubscribe:" in _footer(food_only.text())


def test_member_mailing_footers_give_the_sharing_agreement_or_the_own_topic(smtp, run_jobs):
    orchard, bakery = make_member("orchard-coop"), make_member("bakery-coop")
    orchard_news = owned_topic("orchard-news", orchard)
    bakery_news = owned_topic("bakery-news", bakery)
    person("shared@example.org", [orchard_news], sharing=True)
    person("own@example.org", [bakery_news], sharing=False)
    agreement(orchard, bakery, orchard_news)
    run_jobs()
    smtp.clear()
    approve(submitted_mailing(bakery))
    run_jobs()

    (shared,) = smtp.wait_for("shared@example.org")
    footer = _footer(shared.text())
    assert (
        "You receive this mailing from Bakery Coop because you allowed the Co-op Data Club "
        "to send you offers from member co-ops on Orchard News."
    ) in footer
    assert "because you subscribed to" not in footer
    assert "Unsubscribe:" not in footer
    stop = re.search(r"Stop offers from Bakery Coop: (\S+)", footer).group(1)
    assert "/sharing/stop/" in stop
    assert f"Stop offers from all members: {stop}#all" in footer
    html = shared.html()
    assert "Stop offers from Bakery Coop" in html and "because you subscribed" not in html

    (own,) = smtp.wait_for("own@example.org")
    footer = _footer(own.text())
    assert "because you subscribed to Bakery News at the Co-op Data Club." in footer
    assert "offers from member co-ops" not in footer and "Stop offers" not in footer
    assert "Unsubscribe: http://testserver/u/" in footer
