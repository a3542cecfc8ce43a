"""The member pages speak the reader's language: under the pseudo-locale every word of
the directory, a member's page, applying, suggesting a correction, an invitation, the
member dashboard, profile and credits, and the recruiting admin page is wrapped for
translation (what is left is data: names, addresses, codes, dates). A French reader
sees the directory and its filters in French, kinds and sectors included, while the
exports keep the stable codes; a Spanish reader gets a form's errors in Spanish."""

from __future__ import annotations

import re
from html import unescape

from app.auth.models import ApiKey
from app.db import session_scope
from app.members import codes
from app.members.invitations import token_for
from app.members.models import Invitation, Role
from app.members.suggestions import suggest
from tests.i18n.test_pseudo_locale import unwrapped
from tests.members.factories import log_in, make_account, make_key, make_member, post_form
from tests.newsletters.factories import make_topic
from tests.recruiting.helpers import sign_up_and_confirm
from tests.subscribers.helpers import hidden

OWNER = "owner@riverside.example.org"
# What the pages show that is data, not words of ours.
DATA = (
    "Riverside Food Co-op",
    "/members/riverside",
    "riverside",
    "Groceries owned by their shoppers.",
    "Fresh bread for co-ops",
    "Montréal",
    "Quebec",
    "Canada",
    "French (Canada)",
    "French",
    "English",
    "https://riverside.example.org",
    "info@riverside.example.org",
    OWNER,
    "new@riverside.example.org",
    "someone@example.org",
    "Mississauga",
    "They moved",
    "Food",
    "Website signup",
    "rk_",
    "Open Data Commons Open Database License (ODbL)",
    "ODbL-1.0",
    "ODbL",
    "CC BY",
    "CSV",
    "JSON-LD (schema.org)",
    "JSON",
    "UTC",
    "Co-op Data Club",
    "—",
    "…",
    "←",
    *codes.KINDS,
    *codes.SECTORS,
    "CA-QC",
    "CA",
    "fr-CA",
    "nothing",  # an unknown filter value, shown back as it was given
)
# Code to copy (the snippets) is not chrome; the admin menu belongs to the admin pages.
NOT_CHROME = re.compile(r"<pre\b.*?</pre>|<nav aria-label=\"⟦?Admin⟧?\".*?</nav>", re.S)
# A message may hold another (a kind's name in "Showing: …"): take them inside out.
INNERMOST = re.compile(r"⟦[^⟦⟧]*⟧")


def listed_member():
    member = make_member(
        "riverside",
        name="Riverside Food Co-op",
        description="Groceries owned by their shoppers.",
        show_description=True,
        offer="Fresh bread for co-ops",
        show_offer=True,
        kind="consumer",
        show_kind=True,
        sectors=",food,retail,",
        show_sectors=True,
        country="CA",
        show_country=True,
        region="CA-QC",
        show_region=True,
        city="Montréal",
        show_city=True,
        languages=",fr-CA,en,",
        show_languages=True,
        website="https://riverside.example.org",
        show_website=True,
        contact_email="info@riverside.example.org",
        show_contact=True,
        founded_year=1978,
        show_founded=True,
    )
    owner = make_account(OWNER, role=Role.owner, member=member)
    return member, owner


def problems_of(pages: dict[str, str], *data: str) -> dict[str, list[str]]:
    found = {}
    for path, html in pages.items():
        assert '<html lang="qps">' in html, path
        html = NOT_CHROME.sub("", html)
        while INNERMOST.search(html):
            html = INNERMOST.sub(" ", html)
        places = (*codes.countries().values(), *codes.regions("CA").values())
        left = unwrapped(html, *DATA, *places, *data)
        if left:
            found[path] = left
    return found


def test_the_member_pages_show_no_unwrapped_words(client, smtp, run_jobs):
    member, owner = listed_member()
    make_topic("food", "Food")
    key_id, key = make_key(member, "Website signup")
    with session_scope() as session:
        prefix = session.get(ApiKey, key_id).prefix
    sign_up_and_confirm(
        client, smtp, run_jobs, "someone@example.org", headers={"Authorization": f"Bearer {key}"}
    )
    with session_scope() as session:
        suggestion = suggest(
            session, member=member, field="city", value="Mississauga", note="They moved"
        )
        invitation = Invitation(
            member_id=member.id, email="new@riverside.example.org", role=Role.staff
        )
        session.add(invitation)
        session.flush()
        token = token_for(invitation)
    client.cookies.set("coopclub_lang", "qps")
    pages = {
        path: client.get(path).text
        for path in (
            "/members",
            "/members?kind=worker&sector=nothing",
            "/members?q=nothing-like-this",
            "/members/codes",
            "/members/embed?kind=consumer",
            "/members/embed/view?kind=consumer",
            "/members/riverside",
            "/members/riverside/suggest",
            "/apply",
            f"/invitations/{token}",
            "/invitations/not-a-token",
        )
    }
    apply = client.get("/apply").text
    applications = {
        "POST /apply": {
            "name": "",
            "slug": "No Good",
            "owner_email": "nope",
            "founded_year": "soon",
        },
        "POST /apply (sent)": {
            "name": "Harbour Bakery",
            "slug": "harbour-bakery",
            "owner_email": "ada@harbour.example.org",
        },
    }
    for label, fields in applications.items():
        data = {"csrf_token": hidden(apply, "csrf_token"), **fields}
        pages[label] = client.post("/apply", data=data).text
    run_jobs()
    (mail,) = smtp.wait_for("ada@harbour.example.org")
    confirm = re.search(r"http://testserver(/apply/confirm\?token=[\w.\-]+)", mail.text())
    assert confirm, mail.text()
    pages["/apply/confirm"] = client.get(confirm.group(1)).text
    pages["/apply/confirm (not valid)"] = client.get("/apply/confirm?token=nope").text
    suggest_page = client.get("/members/riverside/suggest").text
    pages["POST suggest"] = client.post(
        "/members/riverside/suggest",
        data={"csrf_token": hidden(suggest_page, "csrf_token"), "field": "founded_year"},
    ).text

    log_in(client, owner)
    client.get("/")  # (the login's own flash is the login page's words)
    for path in (
        "/member",
        "/member/profile",
        f"/member/suggestions/{suggestion.id}",
        "/member/credits",
    ):
        pages[path] = client.get(path).text
    pages["POST /member/keys"] = post_form(client, "/member/keys", {"name": " "}).text
    pages["POST /member/profile"] = post_form(
        client, "/member/profile", {"name": "Riverside Food Co-op", "website": "nope"}
    ).text

    log_in(client, make_account("admin@club.test", role=Role.admin))
    client.get("/")
    pages["/admin/recruiting"] = client.get("/admin/recruiting").text

    assert not problems_of(pages, prefix), problems_of(pages, prefix)


def test_a_french_reader_sees_the_directory_and_its_filters_in_french(client):
    listed_member()
    page = client.get("/members", headers={"Accept-Language": "fr-CA"})
    text = unescape(page.text)
    assert '<html lang="fr">' in page.text
    assert "<h1>Coopératives membres</h1>" in text
    assert "Type de coopérative" in text and "Tous les secteurs" in text
    # Kinds and sectors in French, on the cards and in the filters; codes in the links.
    assert "Coopérative de consommation" in text
    assert '<option value="food">Alimentation et épicerie</option>' in text
    assert "Données ouvertes" in text
    # Countries and languages by their French names (Babel's CLDR lists).
    assert '<option value="fr">français</option>' in text
    profile = unescape(client.get("/members/riverside", headers={"Accept-Language": "fr"}).text)
    assert "français (Canada), anglais" in profile and "Montréal, Québec, Canada" in profile
    # The exports keep the stable codes whatever the reader's language.
    item = client.get("/api/v1/members/riverside", headers={"Accept-Language": "fr"}).json()
    assert item["kind"] == "consumer" and item["sectors"] == ["food", "retail"]
    csv = client.get("/api/v1/members.csv", headers={"Accept-Language": "fr"}).text
    assert "consumer" in csv and "Coopérative" not in csv


def test_a_spanish_reader_gets_the_apply_form_errors_in_spanish(client):
    client.cookies.set("coopclub_lang", "es")
    form = client.get("/apply")
    answer = client.post(
        "/apply",
        data={
            "csrf_token": hidden(form.text, "csrf_token"),
            "name": "Panadería del Puerto",
            "slug": "panaderia-del-puerto",
            "owner_email": "titular@panaderia.example.org",
            "founded_year": "pronto",
            "sectors": ["food", "retail", "energy", "health", "media", "transport"],
        },
    )
    assert answer.status_code == 422
    text = unescape(answer.text)
    assert '<html lang="es">' in answer.text
    assert "Corrige estos 2 puntos; se conserva todo lo que escribiste:" in text
    assert "Año de fundación: escribe el año con cuatro cifras, p. ej. 1978." in text
    assert "Sectores: elige como máximo 5 sectores." in text
    assert 'value="Panadería del Puerto"' in answer.text  # what was typed is kept


def test_the_directory_snippet_names_its_language_and_the_frame_speaks_it(client):
    listed_member()
    maker = unescape(
        client.get("/members/embed?kind=consumer", headers={"Accept-Language": "fr"}).text
    )
    assert '<option value="fr" lang="fr" selected>Français</option>' in maker
    assert (
        "kind=consumer&lang=fr" in maker
        and 'title="Coopératives membres de Co-op Data Club"' in maker
    )
    spanish = unescape(client.get("/members/embed?kind=consumer&lang=es").text)
    assert "kind=consumer&lang=es" in spanish
    # A visitor whose browser asks for English sees the frame in the snippet's language,
    # and its search form and pages keep it.
    frame = client.get(
        "/members/embed/view?kind=consumer&lang=es", headers={"Accept-Language": "en"}
    )
    assert '<html lang="es">' in frame.text
    assert "Cooperativas miembro de Co-op Data Club" in unescape(frame.text)
    assert '<input type="hidden" name="lang" value="es">' in frame.text


def test_the_change_log_names_fields_kinds_and_switches_in_french(client):
    _member, owner = listed_member()
    log_in(client, owner)
    saved = post_form(
        client,
        "/member/profile",
        {"name": "Riverside Food Co-op", "kind": "worker", "sectors": ["food", "energy"]},
        headers={"Accept-Language": "fr"},
    )
    assert "Le profil de votre coopérative est enregistré." in unescape(saved.text)
    page = unescape(client.get("/member/profile", headers={"Accept-Language": "fr"}).text)
    assert '<td data-label="Champ">Type de coopérative</td>' in page
    assert ">Coopérative de consommation</td>" in page and ">Coopérative de travail</td>" in page
    assert ">Alimentation et épicerie, Énergie</td>" in page
    assert ">Site web (affichage dans le répertoire)</td>" in page and ">masqué</td>" in page
