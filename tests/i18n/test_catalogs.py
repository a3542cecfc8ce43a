"""The translation catalogs: every message has a French and a Spanish translation with the
same placeholders, the catalogs hold every message the code and templates use, the
compiled catalogs are the ones the .po files make, and plurals follow each language."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from app import i18n

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}|%%")


def catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=language, abort_invalid=True)


def template():
    with open(TRANSLATIONS / "messages.pot", "rb") as fh:
        return read_po(fh, abort_invalid=True)


def message_ids(path: Path) -> list[str]:
    """Every msgid in a catalog file as written, continuation lines joined (Babel's
    reader keeps the last of two equal ids without a word)."""
    ids: list[str] = []
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            current = [line[len("msgid ") :]]
        elif current is not None and line.startswith('"'):
            current.append(line)
        elif current is not None:
            ids.append("".join(part.strip('"') for part in current))
            current = None
    return [i for i in ids if i]


@pytest.mark.parametrize(
    "path",
    ["messages.pot", "fr/LC_MESSAGES/messages.po", "es/LC_MESSAGES/messages.po"],
)
def test_each_catalog_file_is_well_formed_and_holds_each_message_once(path):
    """Catalogs merge by union (.gitattributes): a merge can leave an entry twice or
    drop a line of one; both are caught here, not by a translator months later."""
    ids = message_ids(TRANSLATIONS / path)
    assert [i for i in set(ids) if ids.count(i) > 1] == []
    with open(TRANSLATIONS / path, "rb") as fh:
        read_po(fh, abort_invalid=True)  # raises on a malformed entry


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_message_is_translated_with_the_same_placeholders(language):
    wanted = {m.id for m in template() if m.id}
    translated = catalog(language)
    problems = []
    for message in translated:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(forms) or message.fuzzy:
            problems.append(f"untranslated: {message.id!r}")
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = placeholders(ids[-1])
        problems += [
            f"placeholders differ: {message.id!r} -> {form!r}"
            for form in forms
            if placeholders(form) != expected
        ]
    missing = wanted - {m.id for m in translated if m.id}
    problems += [f"missing: {msgid!r}" for msgid in sorted(map(str, missing))]
    assert not problems, "\n".join(problems)


def test_the_template_holds_every_message_in_use(tmp_path):
    """`make messages` was run after the last change of wording: extracting again finds
    exactly the messages of translations/messages.pot."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-o",
            str(fresh),
            "--omit-header",
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with open(fresh, "rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    committed = {m.id for m in template() if m.id}
    assert extracted - committed == set(), "new messages: run `make messages` and translate"
    assert committed - extracted == set(), "messages no longer used: run `make messages`"


@pytest.mark.parametrize("language", ["fr", "es"])
def test_the_compiled_catalogs_are_current(language):
    """The .mo `make` built is what the .po says now (make rebuilds it when the .po
    changes; a stale one would show old words)."""
    compiled = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert compiled.is_file(), "run `make install` (pybabel compile)"
    expected = io.BytesIO()
    write_mo(expected, catalog(language))
    assert compiled.read_bytes() == expected.getvalue()


@pytest.mark.parametrize(
    ("language", "counts"),
    [
        ("en", {0: "0 people", 1: "1 person", 2: "2 people", 1200: "1,200 people"}),
        # French: 0 and 1 are singular; a round million takes "de".
        (
            "fr",
            {
                0: "0 personne",
                1: "1 personne",
                2: "2 personnes",
                1200: "1\u202f200 personnes",
                1_000_000: "1\u202f000\u202f000 de personnes",
            },
        ),
        ("es", {0: "0 personas", 1: "1 persona", 2: "2 personas", 1200: "1.200 personas"}),
    ],
)
def test_plural_forms_follow_the_language(language, counts):
    with i18n.using(language):
        shown = {n: i18n.ngettext("%(num)s person", "%(num)s people", n) for n in counts}
    assert shown == counts


@pytest.mark.parametrize(
    "name", ["messages.pot", "fr/LC_MESSAGES/messages.po", "es/LC_MESSAGES/messages.po"]
)
def test_the_catalogs_parse_strictly(name):
    """Every entry is whole (the union merge of two branches' appends can drop the
    template's last `msgstr ""`, which the lenient reader would quietly glue on)."""
    with open(TRANSLATIONS / name, "rb") as fh:
        read_po(fh, abort_invalid=True)
