"""The signup form a member pastes into its own website, and the signed form token that
makes it the member's: the only way (besides the member's API key) a signup is
attributed to a member and can earn it recruiting credits.

The token is signed by the Club (its own salt), carries the member's id and the topics
the member chose for the form, and never expires: a pasted form keeps working. It is
public (it sits in the page's HTML); what it proves is that the Club issued this form to
this member for these topics, so no one can attribute signups to a member by naming it,
and a visitor can only subscribe to the topics the form offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from sqlmodel import Session, and_, col, or_, select

from app import i18n, signing
from app.config import get_settings
from app.consent.models import ConsentScope
from app.consent.texts import consent_words
from app.i18n import gettext
from app.members.models import Member, MemberStatus
from app.subscribers.abuse import HONEYPOT_FIELD
from app.subscribers.models import Topic

FORM_TOKEN_FIELD = "form_token"  # noqa: S105 (a field name, not a secret)
CLUB_NAME = "Co-op Data Club"


class InvalidFormToken(signing.InvalidToken):
    """Not a form the Club issued, or for a member that is no longer active."""


@dataclass(frozen=True)
class EmbedForm:
    member: Member
    topics: list[Topic]  # in the order the member chose them; never empty


def offerable_topics(session: Session, member: Member) -> list[Topic]:
    """The topics a member may put in its form: the Club's own public topics and the
    member's topics (listed or not); never another member's."""
    return list(
        session.exec(
            select(Topic)
            .where(
                or_(
                    and_(col(Topic.public).is_(True), col(Topic.member_id).is_(None)),
                    col(Topic.member_id) == member.id,
                )
            )
            .order_by(Topic.name)
        ).all()
    )


def form_token(member: Member, topics: list[Topic]) -> str:
    return signing.sign(
        signing.Purpose.embed_form, {"m": member.id, "t": [topic.id for topic in topics]}
    )


def read_form_token(session: Session, token: str, *, member_slug: str | None) -> EmbedForm:
    """The member and topics a form token names; raises InvalidToken if it is not
    genuine, names another member than the URL's (`member_slug`), or its member is not
    active."""
    payload = signing.unsign(signing.Purpose.embed_form, token)  # InvalidToken if forged
    if not isinstance(payload, dict):
        raise InvalidFormToken("this form is not valid")
    member = session.get(Member, payload.get("m")) if isinstance(payload.get("m"), int) else None
    if (
        member is None
        or member.slug != (member_slug or member.slug)
        or member.status != MemberStatus.active
    ):
        raise InvalidFormToken("this form does not belong to an active member co-op")
    ids = [i for i in payload.get("t", []) if isinstance(i, int)]
    found = {t.id: t for t in session.exec(select(Topic).where(col(Topic.id).in_(ids))).all()}
    topics = [found[i] for i in ids if i in found]
    if not topics:
        raise InvalidFormToken("this form offers no topics any more")
    return EmbedForm(member=member, topics=topics)


def form_url(form: EmbedForm) -> str:
    return f"{get_settings().base_url}/subscribe/embed/{form.member.slug}"


def iframe_url(form: EmbedForm, language: str | None = None) -> str:
    url = f"{form_url(form)}?{FORM_TOKEN_FIELD}={form_token(form.member, form.topics)}"
    return f"{url}&lang={language}" if language else url


def _topic_fields(topics: list[Topic]) -> str:
    if len(topics) == 1:
        topic = topics[0]
        return (
            f'  <input type="hidden" name="topics" value="{escape(topic.slug)}">\n'
            "  <p>"
            + gettext(
                "Subscribe to %(topic)s, a newsletter of %(club)s.",
                topic=f"<strong>{escape(topic.name)}</strong>",
                club=CLUB_NAME,
            )
            + "</p>\n"
        )
    boxes = "\n".join(
        f'    <label><input type="checkbox" name="topics" value="{escape(t.slug)}"> '
        f"{escape(t.name)}</label><br>"
        for t in topics
    )
    legend = escape(gettext("Choose your newsletters"))
    return f"  <fieldset>\n    <legend>{legend}</legend>\n{boxes}\n  </fieldset>\n"


def embed_snippets(form: EmbedForm, language: str | None = None) -> dict[str, str]:
    """{"form": a plain HTML form, "iframe": our hosted form in an iframe}.

    The plain form posts to the Club, which answers with its own thank-you page (or the
    form again, with the problem marked). It copies today's consent texts: the
    confirmation email and page always show the current words. The iframe sizes itself
    to its content through a small script served by the Club (no inline script); without
    the script it keeps a height that fits the form with an error shown.

    Both are in `language` (the Club's default if None): the plain form's words and its
    hidden `language` field, the iframe's `lang` parameter. A member may change either
    to `en`, `fr` or `es`; the signup, its email and consent texts follow."""
    language = language or i18n.default_language()
    with i18n.using(language):
        return _snippets(form, language)


def _snippets(form: EmbedForm, language: str) -> dict[str, str]:
    base = get_settings().base_url
    token = escape(form_token(form.member, form.topics))
    # (Words are looked up outside the f-strings, where pybabel extract finds them.)
    email_label = escape(gettext("Email address"))
    button = escape(gettext("Subscribe"))
    title = escape(gettext("Subscribe to newsletters from %(club)s", club=CLUB_NAME))
    plain = f"""<form method="post" action="{escape(form_url(form))}">
  <input type="hidden" name="{FORM_TOKEN_FIELD}" value="{token}">
  <input type="hidden" name="language" value="{language}">
  <p><label for="coopclub-email">{email_label}</label>
    <input type="email" id="coopclub-email" name="email" required maxlength="320"
      autocomplete="email"></p>
{_topic_fields(form.topics)}  <p><label><input type="checkbox" name="share_with_members" value="1">
    {escape(consent_words(ConsentScope.sharing, language))}</label></p>
  <div style="position:absolute;left:-9999px" aria-hidden="true">
    <input type="text" name="{HONEYPOT_FIELD}" tabindex="-1" autocomplete="off"></div>
  <p><small>{escape(consent_words(ConsentScope.topic, language))}</small></p>
  <button type="submit">{button}</button>
</form>"""
    iframe = (
        f'<iframe src="{escape(iframe_url(form, language))}" '
        f'title="{title}" '
        "data-coopclub-signup "
        'style="width:100%;max-width:40rem;height:52rem;border:0"></iframe>\n'
        f'<script src="{escape(base)}/static/embed.js" async></script>'
    )
    return {"form": plain, "iframe": iframe}
