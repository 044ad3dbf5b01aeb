"""Staff passwords are stored with the strong default hash; only the test apps use a cheap one.

The test apps (tests/conftest.py ``build_app``) hash with a single PBKDF2 round so that the suite's many
sign-ins stay fast; this proves the setting is the tests' alone.
"""
from __future__ import annotations

from tests.conftest import FAST_PASSWORD_HASH, PASSWORD
from tests.fixtures import close_app


def test_a_city_app_hashes_staff_passwords_with_scrypt(tmp_path):
    from core import create_app
    from core.services.users import create_user
    from tests.conftest import DEMO_CONFIG, prepare_database

    app = create_app(DEMO_CONFIG, settings={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'civic.db'}"})
    try:
        assert app.config["FAB_PASSWORD_HASH_METHOD"] == "scrypt"
        assert app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"].startswith("scrypt:")  # an unknown name costs the same
        prepare_database(app)
        with app.app_context():
            stored = create_user("admin", PASSWORD, "Admin").password
        assert stored.startswith("scrypt:32768:8:1$")
    finally:
        close_app(app)


def test_only_the_test_apps_use_the_cheap_hash(app):
    assert app.config["FAB_PASSWORD_HASH_METHOD"] == FAST_PASSWORD_HASH
    assert app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"].startswith(FAST_PASSWORD_HASH + "$")
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="pw_staff").password.startswith("pbkdf2:sha256:1$")
