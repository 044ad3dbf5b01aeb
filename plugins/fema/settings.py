"""Checks of the ``[fema]`` section of the city config::

    [fema]
    applicant = "City of Palm Coast"            # the applicant named on every summary record
    applicant_pa_id = "035-53150-00"            # FEMA PA applicant id, XXX-XXXXX-XX (first three: county FIPS)
    emergency_services = ["STORM_DEBRIS"]       # services the portal banner offers during an active event
    profiles_dir = "fema-profiles"              # extra / override export profiles (relative to the config file)
    certifier = { name = "Jane Doe", title = "Finance Director" }   # the certification block of exports

``problems(config)`` gives one line per bad key at start-up; the profiles of ``profiles_dir`` are read then too,
so a bad profile file is named (file, key, problem) before anyone opens the Exports screen.
"""
from __future__ import annotations

import re

from core.records import ConfigProblem

KNOWN = ("applicant", "applicant_pa_id", "emergency_services", "profiles_dir", "certifier")
PA_ID = re.compile(r"^\d{3}-\d{5}-\d{2}$")
CERTIFIER_KEYS = ("name", "title")


def problems(config) -> list[ConfigProblem]:
    section = config.section("fema")
    found = [ConfigProblem(f"fema.{key}", f"unknown key (known: {', '.join(KNOWN)})") for key in section if key not in KNOWN]
    applicant = section.get("applicant")
    if applicant is not None and not isinstance(applicant, str):
        found.append(ConfigProblem("fema.applicant", "must be text, such as \"City of Palm Coast\""))
    pa_id = section.get("applicant_pa_id")
    if pa_id not in (None, "") and not (isinstance(pa_id, str) and PA_ID.match(pa_id)):
        found.append(ConfigProblem("fema.applicant_pa_id", f"must look like 035-53150-00 (XXX-XXXXX-XX), not {pa_id!r}"))
    services = section.get("emergency_services")
    if services is not None:
        if not isinstance(services, list) or not all(isinstance(s, str) and s for s in services):
            found.append(ConfigProblem("fema.emergency_services", 'must be a list of service codes, e.g. ["STORM_DEBRIS", "TREE_DOWN"]'))
        else:
            known = {s.get("code") for s in config.services}
            for code in services:
                if code not in known:
                    found.append(ConfigProblem("fema.emergency_services", f"unknown service '{code}' (see [[services]])"))
    folder = section.get("profiles_dir")
    if folder not in (None, ""):
        if not isinstance(folder, str):
            found.append(ConfigProblem("fema.profiles_dir", "must be a folder name (relative to the config file)"))
        elif not (config.path.parent / folder).is_dir():
            found.append(ConfigProblem("fema.profiles_dir", f"no such folder: {folder} (relative to {config.path.parent})"))
        else:
            found.extend(_profile_problems(config.path.parent / folder))
    certifier = section.get("certifier")
    if certifier is not None:
        if not isinstance(certifier, dict):
            found.append(ConfigProblem("fema.certifier", 'must be a table such as { name = "Jane Doe", title = "Finance Director" }'))
        else:
            for key in certifier:
                if key not in CERTIFIER_KEYS:
                    found.append(ConfigProblem(f"fema.certifier.{key}", f"unknown key (known: {', '.join(CERTIFIER_KEYS)})"))
            for key in CERTIFIER_KEYS:
                value = certifier.get(key)
                if certifier and not (isinstance(value, str) and value.strip()):
                    found.append(ConfigProblem(f"fema.certifier.{key}", "is required (text) when a certifier is given"))
    return found


def _profile_problems(folder) -> list[ConfigProblem]:
    """A bad profile in the city's folder stops start-up with the file, the key and the problem (not a 500 on
    the Exports screen later)."""
    from plugins.fema.profiles import ProfileError, load_profiles

    try:
        load_profiles(folder)
    except ProfileError as exc:
        return [ConfigProblem("fema.profiles_dir", str(exc))]
    return []
