"""An Open311 key's rate limit at thousands of requests a minute: one counter per minute, the previous minute
weighted by its share still inside the last 60 seconds, so a key cannot double its rate across a minute's edge;
one upsert per request whatever the rate, and the old minutes are dropped as new ones start."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

MINUTE = 60
SLOT = 29_000_000  # a minute since the epoch (2025)
HALFWAY = SLOT * MINUTE + 30.0


def counters(key: str) -> dict[int, int]:
    from core.extensions import db
    from plugins.intake.models import RateCounter

    return dict(db.session.execute(sa.select(RateCounter.slot, RateCounter.count).where(RateCounter.key == key)).all())


def seed(key: str, slot: int, count: int) -> None:
    from core.extensions import db
    from plugins.intake.models import RateCounter

    db.session.add(RateCounter(bucket="open311", key=key, slot=slot, count=count))
    db.session.commit()


def test_a_key_gets_its_limit_in_a_fresh_minute_then_is_refused(ctx):
    from plugins.intake.ratelimit import allow_counted, retry_after_counted

    key = uuid.uuid4().hex
    answers = [allow_counted("open311", key, 10, MINUTE, now=HALFWAY) for _ in range(11)]
    assert answers == [True] * 10 + [False]
    assert counters(key) == {SLOT: 10}  # a refusal is not counted
    assert retry_after_counted("open311", key, 10, MINUTE, now=HALFWAY) == 30  # the minute is full: until it ends


def test_the_previous_minute_counts_for_the_share_of_it_still_in_the_window(ctx):
    from plugins.intake.ratelimit import allow_counted, retry_after_counted

    key = uuid.uuid4().hex
    seed(key, SLOT - 1, 10)  # a full previous minute, half of it still inside the last 60 seconds: worth 5
    answers = [allow_counted("open311", key, 10, MINUTE, now=HALFWAY) for _ in range(6)]
    assert answers == [True] * 5 + [False]
    # 5 + 10 x (1 - t/60) must drop to 9: t = 36 s into the minute, 6 s from now.
    assert retry_after_counted("open311", key, 10, MINUTE, now=HALFWAY) == 6
    assert allow_counted("open311", key, 10, MINUTE, now=HALFWAY + 6.5) is True


def test_a_new_minute_drops_the_counters_older_than_the_previous_one(ctx):
    from plugins.intake.ratelimit import allow_counted

    key, other = uuid.uuid4().hex, uuid.uuid4().hex
    seed(key, SLOT - 5, 3)
    seed(key, SLOT - 1, 2)
    seed(other, SLOT - 5, 7)
    assert allow_counted("open311", key, 100, MINUTE, now=HALFWAY) is True
    assert counters(key) == {SLOT - 1: 2, SLOT: 1}
    assert counters(other) == {SLOT - 5: 7}  # another key's counters are its own business


def test_a_residents_rate_limit_keeps_only_the_events_of_its_window(ctx):
    """The portal's limits (a few reports or sign-ins an hour) count event rows: a key's rows older than the window
    go when it acts again, so the table never grows past a window's worth per key."""
    from datetime import timedelta

    from core.extensions import db
    from core.models.base import utcnow
    from plugins.intake.models import RateEvent
    from plugins.intake.ratelimit import allow

    key, other = uuid.uuid4().hex, uuid.uuid4().hex
    for who, age in ((key, 7200), (key, 30), (other, 7200)):
        db.session.add(RateEvent(bucket="report", key=who, created_at=utcnow() - timedelta(seconds=age)))
    db.session.commit()
    assert allow("report", key, 5, 3600) is True

    def ages(who):
        return sorted((utcnow() - at).total_seconds() // 60 for at in db.session.scalars(
            sa.select(RateEvent.created_at).where(RateEvent.bucket == "report", RateEvent.key == who)))

    assert ages(key) == [0, 0]  # the one of 30 s ago and the new one; two hours ago is gone
    assert ages(other) == [120]  # another key is left as it was
