"""`coopclub create-admin` makes an admin and, outside production, prints a login link."""

import re

from click.testing import CliRunner

from app.cli import cli
from tests.members.factories import follow_login_link


def test_create_admin_prints_a_link_that_logs_the_admin_in(client):
    result = CliRunner().invoke(cli, ["create-admin", "Boss@Example.org"])
    assert result.exit_code == 0, result.output
    assert "created admin boss@example.org" in result.output
    path = re.search(r"http://testserver(/login/link\?token=\S+)", result.output).group(1)
    landed = follow_login_link(client, path)
    assert landed.status_code == 303 and landed.headers["location"] == "/admin"
    assert client.get("/admin/accounts").status_code == 200
