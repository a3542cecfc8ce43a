"""Email templates: MJML in emails/, compiled once with mjml-python, filled per message.

Two stages. Structure (layout inheritance, partials, loops over an issue's blocks) is
resolved with `[% %]` / `[[ ]]` delimiters into MJML, which is compiled to HTML once
and cached by its source; the HTML keeps ordinary `{{ }}` placeholders, filled for
each recipient. Plain-text twins are `<name>.txt` templates built from the same data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml_to_html

EMAILS_DIR = Path(__file__).resolve().parents[2] / "emails"


class EmailTemplateError(Exception):
    """The MJML did not compile; the message is the compiler's, for the person editing it."""


@dataclass(frozen=True)
class CompiledEmail:
    html: jinja2.Template
    text: jinja2.Template

    def render(self, **context: Any) -> tuple[str, str]:
        return self.html.render(**context), self.text.render(**context)


_structure_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(EMAILS_DIR),
    block_start_string="[%",
    block_end_string="%]",
    variable_start_string="[[",
    variable_end_string="]]",
    comment_start_string="[#",
    comment_end_string="#]",
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_html_env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
_text_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(EMAILS_DIR),
    autoescape=False,  # noqa: S701 - plain text, never shown as HTML
    undefined=jinja2.ChainableUndefined,
    keep_trailing_newline=True,
)


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
def _html_template(html: str) -> jinja2.Template:
    return _html_env.from_string(html)


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def compile_email(name: str, **structure: Any) -> CompiledEmail:
    """Resolve emails/<name>.mjml's structure, compile it, and pair it with <name>.txt."""
    mjml_source = _structure_env.get_template(f"{name}.mjml").render(**structure)
    html = _html_template(compile_mjml(mjml_source))
    text = _text_env.get_template(f"{name}.txt")
    return CompiledEmail(html=html, text=text)


def render_email(name: str, **context: Any) -> tuple[str, str]:
    """Compile (cached) and fill a transactional email: returns (html, text)."""
    return compile_email(name).render(**context)
