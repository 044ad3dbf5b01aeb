"""The demo city's sample map: generated zones and streets, clearly labelled, loaded once."""
from __future__ import annotations

import uuid

import sqlalchemy as sa


def test_demo_city_gets_a_sample_street_network_labelled_as_sample_and_loaded_once(app, session):
    from core.demo import NEIGHBOURHOODS
    from plugins.fieldservice import geo
    from plugins.fieldservice.models import Meter, StreetSegment, Zone
    from plugins.fieldservice.sample import KEY_PREFIX, load_sample_network
    from plugins.intake.models import UtilityAccount

    number = f"9{uuid.uuid4().int % 10**6:06d}-01"
    session.add(UtilityAccount(account_number=number, service_address="1 Sample Ct", address_key="1 SAMPLE CT", lat=29.561,
                               long=-81.201, holder_last_name="SAMPLE", zipcode="32137", zone="central"))
    session.commit()

    load_sample_network(session)
    again = load_sample_network(session)

    assert again == {"zones": 0, "segments": 0, "meters": 0}, "a second run adds nothing"
    zones = {z.code: z for z in session.scalars(sa.select(Zone).where(Zone.sample.is_(True)))}
    assert set(zones) >= {"north", "east", "central", "south", "west"}
    for zone in zones.values():
        assert "(sample)" in zone.name and "(exemple)" in zone.translations["fr"]["name"]
    for hood in NEIGHBOURHOODS:
        assert geo.point_in_polygon(hood.lat, hood.long, zones[hood.zone].geometry), f"{hood.name} lies in zone {hood.zone}"

    sample = sa.select(sa.func.count()).where(StreetSegment.segment_key.like(f"{KEY_PREFIX}%"))
    assert 1500 <= session.scalar(sample) <= 3000
    assert session.scalar(sample.where(StreetSegment.sample.is_(False) | StreetSegment.zone_code.is_(None))) == 0
    names = set(session.scalars(sa.select(StreetSegment.street_name).where(StreetSegment.sample.is_(True)).distinct()))
    assert {"Belle Terre Pkwy", "Palm Coast Pkwy", "Matanzas Woods Pkwy"} <= names

    meter = session.scalar(sa.select(Meter).where(Meter.account_number == number))
    assert meter is not None and meter.sample and meter.zone_code == "central"


def test_the_sample_network_is_the_same_every_time():
    from plugins.fieldservice.sample import street_network, zone_polygons

    assert street_network() == street_network()
    assert zone_polygons() == zone_polygons()
