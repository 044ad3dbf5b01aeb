"""A city profile broken after start-up (start-up refuses a bad one: test_settings.py) gives the coordinator a
503 on the Exports screen naming the file and the key, not a server error."""
from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import PASSWORD, login


def test_exports_screen_names_a_profile_broken_after_start_up(app, tmp_path):
    from core.extensions import db
    from core.models import User
    from core.services.users import create_user
    from plugins.fema.profiles import BUILTIN_DIR

    with app.app_context():
        if db.session.scalar(sa.select(User.id).where(User.username == "fema_profiles_coordinator")) is None:
            create_user("fema_profiles_coordinator", PASSWORD, "FEMA coordinator", email="fema.profiles@palmcoast.example.gov")
        db.session.remove()
    folder = tmp_path / "fema-profiles"
    folder.mkdir()
    labor = (BUILTIN_DIR / "labor-123-2009.toml").read_text(encoding="utf-8")
    (folder / "labor-city.toml").write_text(labor.replace('id = "labor-123-2009"', 'id = "labor-city"')
                                            .replace('form = "labor"', 'form = "payroll"'), encoding="utf-8")
    settings = app.extensions["civic"].plugin_config["fema"]
    before = settings.get("profiles_dir")
    settings["profiles_dir"] = str(folder)  # as if the admin edited the folder's file after start-up
    try:
        page = login(app.test_client(), "fema_profiles_coordinator").get("/fema/exports/")
    finally:
        settings["profiles_dir"] = before
    text = page.get_data(as_text=True)
    assert page.status_code == 503
    assert "labor-city.toml" in text and "key &#39;form&#39;" in text and "payroll" in text
