"""The snippets a member pastes into its own website: a plain HTML form that posts to
us, and an iframe of our hosted embed page. Both attribute signups to the member."""

from __future__ import annotations

from html import escape

from app.config import get_settings
from app.consent.models import ConsentScope
from app.consent.service import CONSENT_TEXTS
from app.subscribers.abuse import HONEYPOT_FIELD
from app.subscribers.models import Topic


def embed_snippets(member_slug: str, topics: list[Topic]) -> dict[str, str]:
    """{"plain": html form, "iframe": html iframe}. The plain form shows today's consent
    texts: a member that pastes it should refresh it when the texts change (a new
    version), or use the iframe, which always shows the current words."""
    base = get_settings().base_url
    action = f"{base}/subscribe/embed/{escape(member_slug)}"
    boxes = "\n".join(
        f'  <label><input type="checkbox" name="topics" value="{escape(t.slug)}"> '
        f"{escape(t.name)}</label><br>"
        for t in topics
    )
    plain = f"""<form method="post" action="{action}">
  <label>Email address <input type="email" name="email" required maxlength="320"></label><br>
{boxes}
  <label>First name (optional, only to greet you)
    <input type="text" name="first_name" maxlength="80"></label><br>
  <label><input type="checkbox" name="share_with_members" value="1">
    {escape(CONSENT_TEXTS[ConsentScope.sharing])}</label><br>
  <div style="position:absolute;left:-9999px" aria-hidden="true">
    <input type="text" name="{HONEYPOT_FIELD}" tabindex="-1" autocomplete="off"></div>
  <p><small>{escape(CONSENT_TEXTS[ConsentScope.topic])}</small></p>
  <button type="submit">Subscribe</button>
</form>"""
    iframe = (
        f'<iframe src="{action}" title="Subscribe to Co-op Data Club newsletters" '
        'style="width:100%;max-width:36rem;height:44rem;border:0" loading="lazy"></iframe>'
    )
    return {"plain": plain, "iframe": iframe}
