"""What members and admins see of recruiting credits: pending and granted, by recruit
number and date (no addresses), and the rate an admin sets."""

from app.jobs import run_sweeps
from app.members.models import Role
from tests.members.factories import log_in, make_account, make_key, make_member, post_form
from tests.newsletters.factories import make_topic
from tests.recruiting.helpers import end_the_hold, sign_up_and_confirm


def test_member_and_admin_see_pending_then_granted_credits(client, smtp, run_jobs):
    coop = make_member("riverside", name="Riverside Food Co-op")
    make_topic("food")
    auth = {"Authorization": f"Bearer {make_key(coop)[1]}"}
    admin = make_account("admin@club.test", role=Role.admin)
    owner = make_account("owner@riverside.example.org", member=coop)

    log_in(client, admin)
    changed = post_form(client, "/admin/recruiting/rate", {"amount": "1,250"})
    assert changed.status_code == 200 and "now earns 1,250 credits" in changed.text
    refused = post_form(client, "/admin/recruiting/rate", {"amount": "lots"})
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    assert 'value="lots"' in refused.text  # the input is kept

    sign_up_and_confirm(client, smtp, run_jobs, "one@example.org", headers=auth)
    sign_up_and_confirm(client, smtp, run_jobs, "two@example.org", headers=auth)
    page = client.get("/admin/recruiting").text
    assert "Riverside Food Co-op" in page and "(2,500 credits)" in page
    assert "one@example.org" not in page  # recruits are numbers, never addresses

    log_in(client, owner)
    mine = client.get("/member/credits").text
    assert "<strong>2,500</strong> credits pending (2 recruits)" in mine
    assert "<strong>0</strong> credits granted" in mine
    end_the_hold()
    run_sweeps()
    mine = client.get("/member/credits").text
    assert "<strong>2,500</strong> credits granted (2 recruits)" in mine
    assert "Balance: <strong>2,500</strong>" in mine
    assert mine.count("Recruited a new subscriber") == 2
