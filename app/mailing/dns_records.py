"""The DNS records each sending domain needs (SPF, DKIM, DMARC), for `coopclub check`
and the deployment docs: what to publish so that every inbox can trust our mail."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.mailing.dkim_signer import load_key
from app.mailing.message import sender_domain


@dataclass(frozen=True)
class DnsRecord:
    domain: str  # the sending domain this record serves
    kind: str  # "SPF", "DKIM" or "DMARC"
    name: str  # where to publish it
    type: str  # "TXT"
    value: str  # what to publish; for a relay's DKIM key, what to ask the relay for
    why: str

    def zone_line(self) -> str:
        return f'{self.name}. IN {self.type} "{self.value}"'


def sending_domains(settings: Settings) -> list[str]:
    """Every domain that appears in our From or return-path addresses."""
    domains = [entry.domain for entry in settings.signing_domains]
    for domain in (sender_domain(settings.mail_from), settings.bounce_domain):
        if domain and domain.lower() not in domains:
            domains.append(domain.lower())
    return domains


def _spf_value(settings: Settings) -> str:
    smtp = settings.smtp
    if smtp is not None and smtp.host not in ("127.0.0.1", "localhost", "::1"):
        return f"v=spf1 a:{smtp.host} -all"
    return "v=spf1 mx -all"


def required_dns_records(settings: Settings) -> list[DnsRecord]:
    """For each sending domain: SPF (who may send with it in the return path), the
    DKIM public key of each selector we sign with, and a DMARC policy."""
    records = []
    signing = {entry.domain: entry for entry in settings.signing_domains}
    spf = _spf_value(settings)
    for domain in sending_domains(settings):
        records.append(
            DnsRecord(
                domain,
                "SPF",
                domain,
                "TXT",
                spf,
                "lets receivers check the server that hands over our mail "
                + (
                    "(replace the a: term with your provider's SPF include if a provider sends)"
                    if " a:" in spf
                    else "(the domain's MX hosts; use your provider's SPF include if a "
                    "provider sends)"
                ),
            )
        )
        entry = signing.get(domain)
        if entry is not None:
            key = load_key(entry)
            records.append(
                DnsRecord(
                    domain,
                    "DKIM",
                    f"{entry.selector}._domainkey.{domain}",
                    "TXT",
                    key.public_record() if key else "(the public key your signing relay gives you)",
                    "the public half of the key that signs our mail"
                    + ("" if key else "; the relay signs, so it holds the private half"),
                )
            )
        records.append(
            DnsRecord(
                domain,
                "DMARC",
                f"_dmarc.{domain}",
                "TXT",
                f"v=DMARC1; p=none; adkim=r; aspf=r; rua=mailto:dmarc-reports@{domain}",
                "tells receivers to expect aligned DKIM and SPF; move to p=quarantine once "
                "the aggregate reports show every message passing",
            )
        )
    return records
