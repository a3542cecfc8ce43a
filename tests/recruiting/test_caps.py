"""Caps per member per UTC day, overall and per recipient domain: recruits over a cap are
recorded (so they never earn later either) but earn nothing."""

from app.config import get_settings
from app.jobs import run_sweeps
from tests.members.factories import make_key, make_member
from tests.newsletters.factories import make_topic
from tests.recruiting.helpers import balance, end_the_hold, recruits, sign_up_and_confirm


def test_the_caps_per_day_and_per_domain(client, smtp, run_jobs, monkeypatch):
    monkeypatch.setattr(get_settings(), "recruiting_cap_per_day", 3)
    monkeypatch.setattr(get_settings(), "recruiting_cap_per_domain_per_day", 2)
    coop, other = make_member("riverside"), make_member("northwind")
    make_topic("food")
    auth = {"Authorization": f"Bearer {make_key(coop)[1]}"}
    for email in ("a@farm.example", "b@farm.example", "c@FARM.example", "d@mail.example"):
        sign_up_and_confirm(client, smtp, run_jobs, email, headers=auth)
    # The third address at farm.example is over the domain cap; the fourth person,
    # at another domain, is still under the daily cap of three.
    assert [r[1] for r in recruits()] == ["pending", "pending", "over-cap", "pending"]
    sign_up_and_confirm(client, smtp, run_jobs, "e@other.example", headers=auth)
    assert recruits()[-1][1] == "over-cap"  # the daily cap: three earning recruits
    # Caps are per member: another member's recruits at the same domain still earn.
    theirs = {"Authorization": f"Bearer {make_key(other)[1]}"}
    sign_up_and_confirm(client, smtp, run_jobs, "f@farm.example", headers=theirs)
    assert recruits()[-1] == (other.id, "pending", 500)
    end_the_hold()
    run_sweeps()
    assert balance(coop) == 3 * 500 and balance(other) == 500


def test_zero_turns_a_cap_off(client, smtp, run_jobs, monkeypatch):
    monkeypatch.setattr(get_settings(), "recruiting_cap_per_day", 0)
    monkeypatch.setattr(get_settings(), "recruiting_cap_per_domain_per_day", 0)
    coop = make_member("riverside")
    make_topic("food")
    auth = {"Authorization": f"Bearer {make_key(coop)[1]}"}
    for n in range(3):
        sign_up_and_confirm(client, smtp, run_jobs, f"p{n}@same.example", headers=auth)
    assert [r[1] for r in recruits()] == ["pending"] * 3
