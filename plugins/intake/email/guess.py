"""Simple guesses from what a resident wrote: the service (the catalog's names and keywords, in every
language the city offers) and the language of the message (its most common small words)."""
from __future__ import annotations

import re
from collections import Counter

from flask import current_app
from sqlalchemy.orm import Session

from core.i18n_content import localized, localized_keywords
from core.models import ServiceType
from plugins.intake.reporting import fold, public_services

# The most frequent small words of some languages (folded: no accents, lower case).
COMMON_WORDS = {
    "en": "the and is are was of to in on at my there it this that please with for have has not near street thank you i we".split(),
    "fr": "le la les des du de et est un une il elle y dans sur mon ma mes nous vous je pas avec pour qui rue merci bonjour depuis devant au aux ce cette".split(),
    "es": "el la los las y es un una en de que por con para mi hay calle gracias hola esta muy".split(),
    "de": "der die das und ist ein eine nicht mit auf ich wir bitte danke strasse vor seit dem den".split(),
    "pt": "o os as e um uma nao com para na no obrigado rua ola em do da esta".split(),
    "it": "il lo gli e un una non con per nella nel grazie via ciao della sono".split(),
}


def city_locales() -> list[str]:
    return list(current_app.extensions["civic"].config.city["locales"])


def offered_locale(value: str | None) -> str | None:
    """``fr-CA`` / ``fr_CA`` / ``fr`` -> the city locale it names, or None."""
    offered = city_locales()
    value = (value or "").strip().replace("-", "_")
    language = value.split("_")[0].lower()
    for candidate in (value, language):
        if candidate and candidate in offered:
            return candidate
    return None


def guess_language(text: str) -> str | None:
    """The city locale whose common words the text uses most (clearly more than any other), or None."""
    words = Counter(fold(text).split())
    scores = []
    for locale in city_locales():
        common = COMMON_WORDS.get(locale.split("_")[0].lower())
        if common:
            scores.append((sum(words[w] for w in set(common)), locale))
    scores.sort(reverse=True)
    if not scores or scores[0][0] < 2 or (len(scores) > 1 and scores[0][0] <= scores[1][0]):
        return None
    return scores[0][1]


def _phrases(service: ServiceType) -> dict[str, int]:
    """The service's names and keywords in every city language, folded, each with its weight
    (a name counts twice as much as a keyword; a phrase of several words more than one word)."""
    out: dict[str, int] = {}
    for locale in city_locales():
        for keyword in localized_keywords(service, locale):
            phrase = fold(keyword)
            if phrase:
                out[phrase] = max(out.get(phrase, 0), len(phrase.split()))
        name = fold(localized(service, "name", locale))
        if name:
            out[name] = max(out.get(name, 0), 2 * len(name.split()))
    return out


def _score(text: str, phrases: dict[str, int]) -> int:
    # A plural ("potholes", "trous", "fuites") counts as its word.
    return sum(weight for phrase, weight in phrases.items() if re.search(rf"\b{re.escape(phrase)}(?:s|es|x)?\b", text))


def guess_service(session: Session, text: str, *, exclude: str = "") -> ServiceType | None:
    """The public service the text is clearly about, or None (nothing matches, or a tie).

    ``exclude`` is the triage service: it is the answer when there is no guess, never a guess itself.
    """
    folded = fold(text)
    if not folded:
        return None
    ranked = sorted(
        ((_score(folded, _phrases(service)), service.code, service) for service in public_services(session) if service.code != exclude),
        key=lambda r: (-r[0], r[1]),
    )
    if not ranked or ranked[0][0] == 0 or (len(ranked) > 1 and ranked[0][0] == ranked[1][0]):
        return None
    return ranked[0][2]


def required_attributes(service: ServiceType) -> list[dict]:
    """The service's questions a case cannot be created without (an e-mail answers none of them)."""
    return [d for d in service.attributes or [] if d.get("required") and d.get("variable", True)]
