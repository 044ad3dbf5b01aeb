"""An administrator who works in French gets the `civic` command's messages in French."""
from __future__ import annotations

from tests.conftest import DEMO_CONFIG
from tests.fixtures import run_civic


def civic(*args, tmp_path, locale=None):
    return run_civic(*args, config=DEMO_CONFIG, database_url=f"sqlite:///{tmp_path / 'civic.db'}", data_dir=tmp_path, site=False,
                     env={"CIVIC_LOCALE": locale} if locale else None)


def test_civic_init_speaks_french_when_the_admin_asks_for_it(tmp_path):
    result = civic("init", tmp_path=tmp_path, locale="fr_CA.UTF-8")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("rôles\u00a0: Admin, Dispatcher")
    assert lines[1].startswith("catalogue\u00a0: 64 créés, 0 mis à jour, 0 désactivés")
    assert lines[2].startswith("administrateur\u00a0: admin / ")
    plugins = civic("plugins", tmp_path=tmp_path, locale="fr")
    assert "i18n 0.1.0 [activé]" in plugins.stdout and "requiert\u00a0: -" in plugins.stdout


def test_civic_speaks_the_city_default_when_no_language_is_asked_or_offered(tmp_path):
    result = civic("init", tmp_path=tmp_path, locale="de_DE")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("roles: Admin")
