"""The files in deploy/ and docs/deploy.md hold together: each systemd unit parses (and
passes `systemd-analyze verify` where it exists), runs our program as the service user
with the settings file, restarts, and its command line is one `coopclub` accepts; the
example settings are real settings, each documented; the nginx example passes `nginx -t`
and sets the X-Forwarded-For that COOPCLUB_TRUSTED_PROXIES is documented to believe."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from app.config import ENV_PREFIX, Settings
from tests import processes
from tests.conftest import IN_CI
from tests.ops.servers import self_signed_certificate
from tests.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GUIDE = (ROOT / "docs" / "deploy.md").read_text()
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
PROGRAM = "/srv/coopclub/.venv/bin/coopclub"


def parse_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(path.read_text())
    return unit


def needed(tool: str) -> str:
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if found is None:
        if IN_CI:
            pytest.fail(f"CI=true but {tool} is missing (.ci/run installs it)")
        pytest.skip(f"{tool} is not installed")
    return found


def test_there_is_a_web_and_a_worker_unit_and_the_guide_installs_both():
    assert [u.name for u in UNITS] == ["coopclub-web.service", "coopclub-worker.service"]
    for unit in UNITS:
        assert f"deploy/systemd/{unit.name}" in GUIDE and f"enable --now {unit.stem}" in GUIDE


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_coopclub_as_the_service_user_and_its_command_is_accepted(path):
    service = parse_unit(path)["Service"]
    assert service["User"] == "coopclub" and service["Group"] == "coopclub"
    assert service["EnvironmentFile"] == "/etc/coopclub/coopclub.env"
    assert service["Restart"] == "on-failure"
    assert service["KillMode"] == "mixed"  # one SIGTERM, passed on once (docs/deploy.md)
    assert service["Environment"] == "PROMETHEUS_MULTIPROC_DIR=/run/coopclub-metrics"
    assert service["RuntimeDirectory"] == "coopclub-metrics"
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == PROGRAM and argv[1] in ("serve", "worker")
    # The same command line, with --help: coopclub refuses an option it does not know.
    result = subprocess.run(
        [*processes.COOPCLUB, *argv[1:], "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_itself_accepts_each_unit(path, tmp_path):
    analyze = needed("systemd-analyze")
    # Pointed at this checkout's program, since /srv/coopclub is not installed here.
    text = path.read_text().replace(
        PROGRAM, shutil.which("coopclub", path=str(ROOT / ".venv/bin")) or PROGRAM
    )
    text = text.replace("WorkingDirectory=/srv/coopclub", f"WorkingDirectory={tmp_path}")
    (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / path.name)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def example_settings() -> dict[str, str]:
    settings = {}
    for line in (DEPLOY / "systemd" / "coopclub.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name] = value.strip('"')
    return settings


def test_the_example_settings_are_real_settings_and_each_is_in_the_guide():
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    for name in example_settings():
        assert name in fields, f"{name} is not a setting"
        assert f"`{name}`" in GUIDE, f"{name} is not explained in docs/deploy.md"


def test_coopclub_env_reads_the_settings_file_as_systemd_does(tmp_path):
    """deploy/coopclub-env sources the file with sh: quoted values with spaces survive,
    and a variable given on the command line wins (the owner's URL for db upgrade)."""
    env_file = tmp_path / "coopclub.env"
    env_file.write_text((DEPLOY / "systemd" / "coopclub.env.example").read_text())
    probe = tmp_path / "print-settings"
    probe.write_text(
        '#!/bin/sh\necho "$COOPCLUB_MAIL_FROM|$COOPCLUB_POSTAL_ADDRESS|$COOPCLUB_DATABASE_URL|$1"\n'
    )
    probe.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "COOPCLUB_ENV_FILE": str(env_file), "COOPCLUB_BIN": str(probe)}

    def run(**given: str) -> str:
        command = [str(DEPLOY / "coopclub-env"), "check"]
        result = subprocess.run(command, env=env | given, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    settings = example_settings()
    mail_from, address = settings["COOPCLUB_MAIL_FROM"], settings["COOPCLUB_POSTAL_ADDRESS"]
    assert run() == f"{mail_from}|{address}|{settings['COOPCLUB_DATABASE_URL']}|check"
    owner = "postgresql://owner:it's a secret@db/coopclub"
    assert run(COOPCLUB_DATABASE_URL=owner) == f"{mail_from}|{address}|{owner}|check"


def test_the_nginx_example_is_valid_and_forwards_the_client_address(tmp_path):
    nginx = needed("nginx")
    config = (DEPLOY / "nginx" / "coopclub.conf").read_text()
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", config)
    assert "COOPCLUB_TRUSTED_PROXIES" in config
    assert "`COOPCLUB_TRUSTED_PROXIES`" in GUIDE and "deploy/nginx/coopclub.conf" in GUIDE
    # nginx -t: the real parser, with a certificate made here and ports of our own.
    cert, key = self_signed_certificate(tmp_path)
    config = config.replace("/etc/letsencrypt/live/club.example.org/fullchain.pem", str(cert))
    config = config.replace("/etc/letsencrypt/live/club.example.org/privkey.pem", str(key))
    config = re.sub(r"\n\s*listen \[::\]:[^;]*;", "", config)  # no IPv6 in every sandbox
    config = config.replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    config = config.replace("listen 443 ssl", f"listen 127.0.0.1:{free_port()} ssl")
    (tmp_path / "coopclub.conf").write_text(config)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  include {tmp_path}/coopclub.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_bounce_pipe_hands_over_the_message_and_asks_postfix_to_retry_when_it_cannot(tmp_path):
    needed("curl")
    import http.server
    import threading

    received: list[tuple[str, bytes]] = []
    answers = [202, 503]

    class Club(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["X-Bounce-Secret"], body))
            self.send_response(answers.pop(0))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Club)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conf = tmp_path / "bounce-webhook.conf"
    conf.write_text(
        f'url = "http://127.0.0.1:{server.server_port}/webhooks/bounces"\n'
        'header = "X-Bounce-Secret: the-secret"\n'
    )
    env = {"PATH": "/usr/bin:/bin", "COOPCLUB_BOUNCE_CONFIG": str(conf)}
    pipe = [str(DEPLOY / "postfix" / "coopclub-bounce")]
    try:
        taken = subprocess.run(pipe, input=b"Subject: bounce\r\n\r\nreport", env=env)
        refused = subprocess.run(pipe, input=b"again", env=env, capture_output=True)
    finally:
        server.shutdown()
    assert taken.returncode == 0 and refused.returncode == 75  # EX_TEMPFAIL: Postfix retries
    assert received[0] == ("the-secret", b"Subject: bounce\r\n\r\nreport")
    assert "coopclub-bounce" in (DEPLOY / "postfix" / "master.cf.snippet").read_text()
