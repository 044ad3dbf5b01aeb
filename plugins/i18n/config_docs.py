"""What each key of the ``[i18n]`` section means (the ``config_docs`` hook; docs/config-reference.md shows them)."""
from __future__ import annotations

DOCS = {
    "i18n.format_locales": "For each language of city.locales, the regional locale whose date and number formats it is shown "
                           "with, such as { en = \"en_US\", fr = \"fr_CA\" }.",
    "i18n.translation_directories": "The city's own gettext catalogs (<folder>/<locale>/LC_MESSAGES/messages.mo), loaded after "
                                    "every other catalog so they can change any text; a relative folder is read from the "
                                    "config file's folder.",
    "i18n.currency": "The ISO 4217 code of the money amounts shown on screens and exports (USD, CAD, EUR...).",
}
