"""What each key of the ``[fema]`` section means (the ``config_docs`` hook; docs/config-reference.md shows them)."""
from __future__ import annotations

DOCS = {
    "fema.applicant": "The applicant named on every FEMA summary record and export (such as \"City of Palm Coast\").",
    "fema.applicant_pa_id": "The city's FEMA Public Assistance applicant id, XXX-XXXXX-XX (the first three digits: the county "
                            "FIPS code).",
    "fema.emergency_services": "The service codes the portal's banner offers while a disaster or emergency is active, such as "
                               "[\"STORM_DEBRIS\"].",
    "fema.profiles_dir": "A folder of the city's own export profiles (TOML), relative to the config file; a profile with the "
                         "id of a built-in one replaces it (see docs/fema.md).",
    "fema.certifier": "Who certifies the exports: their certification block is printed on each package.",
    "fema.certifier.name": "The certifying official's name (required when certifier is given).",
    "fema.certifier.title": "The certifying official's title, such as \"Finance Director\" (required when certifier is given).",
}
