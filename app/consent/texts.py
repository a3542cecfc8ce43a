"""The words shown beside each consent, in each language the Club speaks.

These are legal words, written out per language here rather than in the gettext
catalogs: a person consents to exactly the text they read. Changing any of them makes a
new ConsentText version (for that scope and language) on first use; existing versions
are never edited, and receipts quote the words, their language and their digest.
"""

from __future__ import annotations

from app.consent.models import ConsentScope

CONSENT_WORDING: dict[str, dict[ConsentScope, str]] = {
    "en": {
        ConsentScope.topic: (
            "I want to receive the Co-op Data Club newsletters on the topics I ticked. "
            "They carry sponsored blocks from member co-ops, clearly labelled as sponsored in "
            "each email. The Club keeps my email address (and my first name, if I gave it) "
            "only to send them, never sells it, and I can unsubscribe, download my data or "
            "erase myself at any time from the link in every email."
        ),
        ConsentScope.sharing: (
            "Also let other member co-ops of the Club send me offers on these topics. The "
            "Club sends their offers for them: they never see my address. Withdrawing this "
            "consent, from the link in every email, stops all of them."
        ),
        ConsentScope.sponsored: (
            "I agree that the Club's newsletters may carry sponsored blocks from member co-ops."
        ),
    },
    "fr": {
        ConsentScope.topic: (
            "Je veux recevoir les infolettres du Co-op Data Club sur les thèmes que j’ai "
            "cochés. Elles contiennent des encarts commandités par des coopératives membres, "
            "clairement signalés comme tels dans chaque courriel. Le Club conserve mon "
            "adresse courriel (et mon prénom, si je l’ai donné) uniquement pour me les "
            "envoyer, ne la vend jamais, et je peux me désabonner, télécharger mes données "
            "ou m’effacer à tout moment grâce au lien présent dans chaque courriel."
        ),
        ConsentScope.sharing: (
            "Permettre aussi à d’autres coopératives membres du Club de m’envoyer des offres "
            "sur ces thèmes. C’est le Club qui envoie leurs offres à leur place\u00a0: elles "
            "ne voient jamais mon adresse. Retirer ce consentement, grâce au lien présent "
            "dans chaque courriel, les arrête toutes."
        ),
        ConsentScope.sponsored: (
            "J’accepte que les infolettres du Club contiennent des encarts commandités par "
            "des coopératives membres."
        ),
    },
    "es": {
        ConsentScope.topic: (
            "Quiero recibir los boletines del Co-op Data Club sobre los temas que marqué. "
            "Incluyen espacios patrocinados por cooperativas miembro, señalados claramente "
            "como patrocinados en cada correo. El Club guarda mi correo electrónico (y mi "
            "nombre, si lo di) solo para enviármelos, nunca lo vende, y puedo darme de baja, "
            "descargar mis datos o borrarme en cualquier momento desde el enlace de cada "
            "correo."
        ),
        ConsentScope.sharing: (
            "Permitir también que otras cooperativas miembro del Club me envíen ofertas sobre "
            "estos temas. El Club envía sus ofertas por ellas: nunca ven mi dirección. "
            "Retirar este consentimiento, desde el enlace de cada correo, las detiene todas."
        ),
        ConsentScope.sponsored: (
            "Acepto que los boletines del Club incluyan espacios patrocinados por "
            "cooperativas miembro."
        ),
    },
}


def consent_words(scope: ConsentScope, language: str | None) -> str:
    """The words for `scope` in `language` (English if the Club does not write in it)."""
    return CONSENT_WORDING.get(language or "en", CONSENT_WORDING["en"])[scope]
