"""Checks of the city config's ``[intake]`` section: one ConfigProblem per bad key (see core.config)."""
from __future__ import annotations

from core.records import ConfigProblem

KNOWN = {
    "public_url", "tile_url", "tile_attribution", "report_limit", "report_window", "lookup_limit",
    "lookup_window", "nearby_radius", "open311_rate_limit", "open311_queue", "call_wrap_up_reasons", "email",
}
QUEUE_MODES = ("off", "busy", "always")


def problems(config) -> list[ConfigProblem]:
    from plugins.intake.calls import config_problems as call_problems
    from plugins.intake.email.settings import config_problems as email_problems

    section = config.section("intake")
    found = [
        ConfigProblem(f"intake.{key}", f"unknown key (known: {', '.join(sorted(KNOWN))})") for key in section if key not in KNOWN
    ]
    for key in ("report_limit", "report_window", "lookup_limit", "lookup_window", "nearby_radius", "open311_rate_limit"):
        value = section.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            found.append(ConfigProblem(f"intake.{key}", f"must be a whole number of at least 1, not {value!r}"))
    mode = section.get("open311_queue")
    if mode is not None and mode not in QUEUE_MODES:
        found.append(ConfigProblem("intake.open311_queue", f"must be one of {', '.join(QUEUE_MODES)}, not {mode!r}"))
    return found + call_problems(config) + email_problems(config)
