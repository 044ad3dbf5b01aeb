"""The guides people read: every picture and file they point to is there, and every main screen `make screenshots`
takes is in the repository in both languages and shown (or linked) in the staff guide."""
from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.conftest import ROOT
from tests.screenshots import LANGUAGES, OUT, SCREENS

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img[^>]*\bsrc=\"([^\"]+)\"")


def local_targets(page):
    for match in LINK.finditer(page.read_text(encoding="utf-8")):
        target = (match.group(1) or match.group(2)).split("#", 1)[0]
        if target and not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not files here
            yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_picture_and_file_a_guide_points_to_exists(page):
    missing = [target for target in local_targets(page) if not (page.parent / target).exists()]
    assert not missing, f"{page.relative_to(ROOT)} points to files that are not there: {missing}"


def test_the_link_reader_sees_markdown_images_links_and_html_images(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('![a](shots/a.png) [b](b.md#part) <img src="c.png" width="3"> [web](https://example.org) [top](#top)\n',
                    encoding="utf-8")
    assert list(local_targets(page)) == ["shots/a.png", "b.md", "c.png"]


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("screen", [s.name for s in SCREENS])
def test_each_main_screen_is_saved_in_both_languages_and_the_staff_guide_shows_it(screen, language):
    png = OUT / f"{screen}-{language}.png"
    assert png.exists(), f"{png.relative_to(ROOT)} is missing: run `make screenshots`"
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width >= 390 and image.height >= 600
    guide = (ROOT / "docs" / "staff-guide.md").read_text(encoding="utf-8")
    assert f"(screenshots/{png.name})" in guide


def test_the_readme_shows_the_portal_and_a_staff_screen():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r'<img[^>]*src="docs/screenshots/([^"]+)"', readme) + re.findall(r"!\[[^\]]*\]\(docs/screenshots/([^)]+)\)", readme)
    assert any(name.startswith("portal") for name in shown) and any(name.startswith("staff-case") for name in shown)
