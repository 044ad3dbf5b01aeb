"""The French catalog is complete for every string the core and each plugin wrap for translation."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "core"] + sorted(p for p in (ROOT / "plugins").iterdir() if (p / "plugin.py").exists())
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2"), ("**/templates/**.txt", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "lazy_ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


def extracted(package: Path) -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(package), METHOD_MAP, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}}
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in found if m}


def french_catalog(package: Path):
    po = package / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return None
    with po.open("rb") as fh:
        return read_po(fh, locale="fr")


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_wrapped_string_has_a_real_french_translation(package):
    messages = extracted(package)
    if not messages:
        return
    catalog = french_catalog(package)
    assert catalog is not None, f"{package.name}: no translations/fr/LC_MESSAGES/messages.po (run `make i18n`)"
    problems = []
    for msgid in sorted(messages):
        entry = catalog.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
            continue
        text = entry.string if isinstance(entry.string, str) else (entry.string[0] if entry.string else "")
        if not text:
            problems.append(f"empty: {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text)):
            problems.append(f"placeholders differ: {msgid!r} -> {text!r}")
    assert not problems, f"{package.name}/translations/fr: " + "; ".join(problems[:40])


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_compiled_catalog_matches_its_po_file(package):
    from babel.messages.mofile import read_mo

    catalog = french_catalog(package)
    if catalog is None:
        return
    mo = package / "translations" / "fr" / "LC_MESSAGES" / "messages.mo"
    assert mo.exists(), f"{mo} missing: run `make i18n`"
    with mo.open("rb") as fh:
        compiled = read_mo(fh)
    def key(value):  # plural entries carry sequences
        return tuple(value) if isinstance(value, (list, tuple)) else value

    want = {key(m.id): key(m.string) for m in catalog if m.id and m.string and not m.fuzzy}
    have = {key(m.id): key(m.string) for m in compiled if m.id}
    assert want == have, f"{mo} is out of date with its .po: run `make i18n`"


def test_staff_screens_speak_french_when_the_browser_asks_for_it(client_for):
    client = client_for("dispatcher")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-CA,fr;q=0.9"  # saves no preference for the shared user
    html = client.get("/caseview/list/").get_data(as_text=True)
    assert "Dossiers" in html and "Référence" in html
    assert "Tableau de bord" in html


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_french_follows_typographic_rules(package):
    """A no-break space (not a plain one) before : ; ? ! and inside « »."""
    catalog = french_catalog(package)
    if catalog is None:
        return
    bad = [m.id for m in catalog if m.id and isinstance(m.string, str) and re.search(r" [:;?!]|« | »", m.string)]
    assert not bad, f"{package.name}: plain space before punctuation or inside guillemets in: {bad[:10]}"


def test_the_same_english_has_the_same_french_in_every_catalog():
    """The app merges every package's catalog into one: a msgid translated two ways shows whichever catalog
    loads last, everywhere ("Service" became "Service" on the core's case screens).  One French per msgid."""
    translations: dict[str, dict[str, list[str]]] = {}
    for package in PACKAGES:
        for message in french_catalog(package) or ():
            if message.id and message.string:
                shown = message.string if isinstance(message.string, str) else " | ".join(message.string)
                translations.setdefault(str(message.id), {}).setdefault(shown, []).append(package.name)
    clashes = {msgid: found for msgid, found in translations.items() if len(found) > 1}
    assert not clashes, "translated differently in different catalogs: " + "; ".join(
        f"{msgid!r}: " + ", ".join(f"{text!r} ({', '.join(pkgs)})" for text, pkgs in found.items()) for msgid, found in clashes.items())
