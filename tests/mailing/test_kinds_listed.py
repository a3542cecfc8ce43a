"""Every message the product can send is in tests/mailing/kinds.py, so the checks that
judge every kind from outside (SpamAssassin, dkimpy, headers, languages) cannot miss
one: each template in emails/ and each `kind=` the code queues transactional mail with
must be listed there."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.mailing.kinds import listed_kinds, listed_templates

ROOT = Path(__file__).resolve().parents[2]
QUEUEING = {"queue_transactional", "transactional_row", "queue_prepared"}
FORWARDS = ROOT / "app" / "mailing" / "service.py"
NOT_A_MESSAGE = {"layout"}  # what the others extend


def _literals(expr: ast.expr) -> list[str]:
    """The strings `expr` can be, when it is a literal or a choice between them; else []."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.IfExp):
        body, orelse = _literals(expr.body), _literals(expr.orelse)
        return body + orelse if body and orelse else []
    return []


def queued_kinds() -> dict[str, str]:
    """Every kind the code passes to the functions that queue transactional mail, with
    where; a kind that is not a literal (or a choice between literals) is reported."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in QUEUEING:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            (kind,) = [k.value for k in node.keywords if k.arg == "kind"] or [None]
            if kind is None and path == FORWARDS and any(k.arg is None for k in node.keywords):
                continue  # queue_transactional handing its caller's kind= on
            assert kind is not None, f"{where}: {name} without kind="
            literals = _literals(kind)
            assert literals, f"{where}: kind= is not a literal; make it one, or list it here"
            found.update(dict.fromkeys(literals, where))
    return found


def test_every_template_is_a_listed_kind():
    templates = {path.stem for path in (ROOT / "emails").glob("*.mjml")} - NOT_A_MESSAGE
    assert templates - listed_templates() == set(), "add them to tests/mailing/kinds.py"
    assert listed_templates() - templates == set(), "kinds.py lists templates that are gone"


def test_every_queued_kind_is_listed():
    queued = queued_kinds()
    assert {"login-link", "application", "directory-suggestion", "issue-test"} <= set(queued)
    missing = {kind: where for kind, where in queued.items() if kind not in listed_kinds()}
    assert not missing, "add them to tests/mailing/kinds.py"
