"""Email templates: MJML in emails/, compiled once with mjml-python, filled per message.

Two stages. Structure (layout inheritance, partials, loops over an issue's blocks) is
resolved with `[% %]` / `[[ ]]` delimiters into MJML, which is compiled to HTML once
and cached by its source; the HTML keeps ordinary `{{ }}` placeholders, filled for
each recipient. Plain-text twins are `<name>.txt` templates built from the same data.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from mjml import mjml_to_html

from app import i18n

EMAILS_DIR = Path(__file__).resolve().parents[2] / "emails"


class EmailTemplateError(Exception):
    """The MJML did not compile; the message is the compiler's, for the person editing it."""


@dataclass(frozen=True)
class CompiledEmail:
    html: jinja2.Template
    text: jinja2.Template

    def render(self, **context: Any) -> tuple[str, str]:
        return self.html.render(**context), self.text.render(**context)


# Everything stage one writes is made inert for stage two: data (a subject, a member's
# headline) must never be read as a placeholder or a statement. Each "{" in data becomes
# a private-use sentinel that survives MJML (which decodes entities), and after
# compilation the sentinel becomes an expression that prints a literal "{".
_BRACE = "\ue000"
_LITERAL_BRACE = '{{ "{" }}'


def _inert_html(value: Any) -> Markup:
    html = value if isinstance(value, Markup) else escape(value)
    return Markup(str(html).replace("{", _BRACE))  # noqa: S704 - escaped just above


def _inert_text(value: Any) -> str:
    return str(value).replace("{", _BRACE)


def _restore_braces(compiled: str) -> str:
    return compiled.replace(_BRACE, _LITERAL_BRACE)


# Attribute values (`[[ value|attr ]]`) are filled in AFTER MJML: MJML decodes entities
# in attributes such as mj-image's alt and src and writes them back unescaped, so an
# escaped quote in data would become a real one. Stage one writes an opaque token; the
# compiled HTML gets the value escaped for an attribute (quotes included) in its place.
_ATTR_TOKEN = re.compile("\ue001(\\d+)\ue002")
_attr_values: ContextVar[list[str] | None] = ContextVar("attr_values", default=None)


def _attr(value: Any) -> Markup:
    values = _attr_values.get()
    if values is None:
        raise RuntimeError("|attr is only for templates compiled by compile_structured")
    values.append(str(value))
    return Markup(f"\ue001{len(values) - 1}\ue002")  # noqa: S704 - a token, no data


def _fill_attributes(compiled: str, values: list[str]) -> str:
    return _ATTR_TOKEN.sub(lambda m: str(_inert_html(values[int(m.group(1))])), compiled)


_STRUCTURE_SYNTAX: dict[str, Any] = dict(
    block_start_string="[%",
    block_end_string="%]",
    variable_start_string="[[",
    variable_end_string="]]",
    comment_start_string="[#",
    comment_end_string="#]",
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    loader=jinja2.FileSystemLoader(EMAILS_DIR),
)
_structure_env = jinja2.Environment(autoescape=True, finalize=_inert_html, **_STRUCTURE_SYNTAX)
_structure_env.filters["attr"] = _attr
_structure_text_env = jinja2.Environment(  # plain text, never shown as HTML
    autoescape=False,  # noqa: S701
    finalize=_inert_text,
    **_STRUCTURE_SYNTAX,
)
# Per-message placeholders are filled in a sandbox: compiled content may come from
# members' creatives, and a sandbox cannot reach Python internals whatever it holds.
_html_env = SandboxedEnvironment(autoescape=True, undefined=jinja2.ChainableUndefined)
_text_sandbox = SandboxedEnvironment(autoescape=False, undefined=jinja2.ChainableUndefined)
_text_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(EMAILS_DIR),
    autoescape=False,  # noqa: S701 - plain text, never shown as HTML
    undefined=jinja2.ChainableUndefined,
    keep_trailing_newline=True,
)
# The words of a transactional email are translated when its placeholders are filled
# (`{{ _("…") }}`), so one compiled template serves every language; a newsletter's chrome
# is translated in stage one (`[[ _("…") ]]`), once per issue, in the language.
# Both in the language in force (`i18n.using`).
for _env in (_html_env, _text_sandbox, _text_env, _structure_env, _structure_text_env):
    i18n.install(_env)


@lru_cache(maxsize=256)
def compile_mjml(source: str) -> str:
    """MJML to HTML, cached by the source text so each distinct template compiles once."""
    try:
        result = mjml_to_html(source)
    except Exception as exc:  # mjml-python raises plain KeyError/ValueError on bad markup
        raise EmailTemplateError(
            f"MJML could not be compiled: {type(exc).__name__}: {exc}"
        ) from exc
    if result.errors:
        raise EmailTemplateError("MJML could not be compiled: " + "; ".join(result.errors))
    return result.html


@lru_cache(maxsize=256)
def html_template(html: str) -> jinja2.Template:
    return _html_env.from_string(html)


def compile_email(name: str, **structure: Any) -> CompiledEmail:
    """Resolve emails/<name>.mjml's structure, compile it, and pair it with <name>.txt."""
    if not structure:
        return _compiled_email(name)
    return _compile_email(name, **structure)


@lru_cache(maxsize=64)
def _compiled_email(name: str) -> CompiledEmail:
    # A transactional email's structure takes no data (its words are translated when its
    # placeholders are filled): resolved and compiled once per process, not per message.
    return _compile_email(name)


def _compile_email(name: str, **structure: Any) -> CompiledEmail:
    mjml_source = _structure_env.get_template(f"{name}.mjml").render(**structure)
    html = html_template(compile_mjml(mjml_source))
    text = _text_env.get_template(f"{name}.txt")
    return CompiledEmail(html=html, text=text)


def compile_structured(name: str, **structure: Any) -> tuple[str, str]:
    """Stage one for an email whose structure depends on data (a newsletter issue):
    returns the compiled HTML and the text twin, both still holding `{{ }}` placeholders."""
    structure.setdefault("language", i18n.current())  # <html lang>, fixed in stage one
    values: list[str] = []
    token = _attr_values.set(values)
    try:
        mjml_source = _structure_env.get_template(f"{name}.mjml").render(**structure)
    finally:
        _attr_values.reset(token)
    html = _fill_attributes(compile_mjml(mjml_source), values)
    text = _structure_text_env.get_template(f"{name}.txt").render(**structure)
    return _restore_braces(html), _restore_braces(text)


@lru_cache(maxsize=64)
def text_template(text: str) -> jinja2.Template:
    return _text_sandbox.from_string(text)


def fill(html: str, text: str, **context: Any) -> tuple[str, str]:
    """Stage two: fill a compiled email's placeholders for one recipient, in the language
    in force (`i18n.using`)."""
    return html_template(html).render(**context), text_template(text).render(**context)


def render_email(name: str, **context: Any) -> tuple[str, str]:
    """Compile (cached) and fill a transactional email in the language in force:
    returns (html, text)."""
    return compile_email(name).render(**context)
