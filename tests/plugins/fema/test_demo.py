"""`civic fema demo`: the demo city gets a sample disaster with a week of documented work, once."""
from __future__ import annotations

import sqlalchemy as sa


def test_demo_city_gets_a_sample_disaster_with_a_week_of_labor_and_equipment_once(app, session, tmp_path):
    from plugins.fema.demo import SAMPLE_NUMBER, load_demo
    from plugins.fema.models import Disaster, Equipment, EquipmentEntry, LaborEntry
    from plugins.fema.rates import rate_for

    first = load_demo(session)
    again = load_demo(session)

    disaster = session.scalar(sa.select(Disaster).where(Disaster.number == SAMPLE_NUMBER))
    assert "sample" in disaster.title and not disaster.active
    assert (again.employees, again.equipment, again.labor, again.equipment_use) == (0, 0, 0, 0), "a second run adds nothing"
    labor = session.scalar(sa.select(sa.func.count()).select_from(LaborEntry).where(LaborEntry.disaster_id == disaster.id))
    uses = session.scalar(sa.select(sa.func.count()).select_from(EquipmentEntry).where(EquipmentEntry.disaster_id == disaster.id))
    assert labor == 35 and uses == 28
    assert first.labor in (0, 35)  # 0 when another test of this worker loaded it first
    codes = session.scalars(sa.select(Equipment.fema_code).distinct().join(EquipmentEntry, EquipmentEntry.equipment_id == Equipment.id)
                            .where(EquipmentEntry.disaster_id == disaster.id)).all()
    assert len(codes) == 4
    for code in codes:
        assert rate_for(session, disaster, code) is not None, f"the sample schedule has no rate for {code}"
