"""`coopclub check --dns`: the SPF, DKIM and DMARC records actually published, compared
with what `required_dns_records` says each sending domain needs."""

from __future__ import annotations

import dns.exception
import dns.resolver

from app.mailing.dns_records import DnsRecord
from app.preflight import Finding


def make_resolver(server: str | None = None) -> dns.resolver.Resolver:
    """The system's resolver, or one that asks `server` (HOST or HOST:PORT) only: e.g.
    the zone's own name server, before the records have spread."""
    if server is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        resolver.nameservers = [host]
        resolver.port = int(port) if port else 53
    resolver.lifetime = 10.0
    return resolver


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """Every TXT string at `name` (each record's pieces joined), [] when there is none."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(rdata.strings).decode(errors="replace") for rdata in answer]


def _tags(value: str) -> dict[str, str]:
    tags = {}
    for part in value.split(";"):
        key, _, tag_value = part.partition("=")
        if key.strip():
            tags[key.strip().lower()] = "".join(tag_value.split())
    return tags


def compare_spf(published: list[str], wanted: DnsRecord) -> str | None:
    spf = [value for value in published if value.lower().startswith("v=spf1")]
    if not spf:
        return f"no SPF record; publish: {wanted.value}"
    if len(spf) > 1:
        return f"{len(spf)} SPF records (receivers then fail SPF): keep one, {wanted.value}"
    terms = spf[0].lower().split()
    missing = [t for t in wanted.value.lower().split()[1:-1] if t not in terms]
    if missing:
        return f"{spf[0]!r} does not allow {' '.join(missing)}; publish: {wanted.value}"
    if terms[-1] not in ("-all", "~all"):
        return f"{spf[0]!r} ends with {terms[-1]}, so anyone may send: end it with -all"
    return None


def compare_dkim(published: list[str], wanted: DnsRecord) -> str | None:
    keys = [_tags(value) for value in published if "p=" in value]
    if not keys:
        return f"no DKIM key; publish: {wanted.value}"
    if not wanted.value.startswith("v=DKIM1"):  # a relay signs: any published key is its own
        return None if keys[0].get("p") else "the published key is empty (revoked)"
    want = _tags(wanted.value)["p"]
    if keys[0].get("p") != want:
        return f"the published key is not the one we sign with; publish: {wanted.value}"
    return None


def compare_dmarc(published: list[str], wanted: DnsRecord) -> str | None:
    dmarc = [_tags(value) for value in published if value.upper().startswith("V=DMARC1")]
    if not dmarc:
        return f"no DMARC policy; publish: {wanted.value}"
    if len(dmarc) > 1:
        return f"{len(dmarc)} DMARC records (receivers then ignore them): keep one"
    if dmarc[0].get("p") not in ("none", "quarantine", "reject"):
        return f"the DMARC record has no valid p= tag; publish: {wanted.value}"
    return None


COMPARE = {"SPF": compare_spf, "DKIM": compare_dkim, "DMARC": compare_dmarc}


def check_published(records: list[DnsRecord], resolver: dns.resolver.Resolver) -> list[Finding]:
    findings = []
    for record in records:
        check = f"dns {record.kind} {record.name}"
        try:
            published = txt_records(resolver, record.name)
        except dns.exception.DNSException as exc:
            findings.append(Finding(check, "problem", f"the lookup failed: {exc}"))
            continue
        problem = COMPARE[record.kind](published, record)
        if problem:
            findings.append(Finding(check, "problem", problem))
        else:
            findings.append(Finding(check, "ok", "published as it should be"))
    return findings
