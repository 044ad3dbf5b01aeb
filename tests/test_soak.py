"""`make soak`'s own rules (bench/soak.py): the memory growth it judges and the config it serves."""
from __future__ import annotations

from bench.soak import MAX_GROWTH, city_config, growth


def test_growth_is_judged_once_the_workers_are_warm():
    # 600 s: the warm-up is the first 180 s; the baseline is the minute after it, against the last minute.
    warming_then_steady = [(0, 240.0), (15, 280.0), (60, 300.0), (120, 320.0), (180.2, 330.0), (240, 331.0),
                           (420, 332.0), (540, 333.0), (585, 334.0), (600.1, 334.0)]
    warm, last, grew = growth(warming_then_steady, 600)
    assert (warm, last) == (330.5, 334.0) and 0 < grew < MAX_GROWTH  # the warm-up's 240 -> 330 MB is not judged
    leaking = [(0, 240.0), (60, 300.0), (180, 310.0), (240, 312.0), (420, 330.0), (585, 345.0), (600, 346.0)]
    assert growth(leaking, 600)[2] > MAX_GROWTH
    short = [(0, 100.0), (10, 120.0), (20, 121.0), (30, 121.0)]  # SOAK_SECONDS=30: one sample window, still judged
    assert growth(short, 30) == (121.0, 121.0, 0.0)


def test_soak_serves_the_demo_city_with_a_report_limit_for_one_address(tmp_path):
    from core.config import load_city_config

    config = load_city_config(city_config(tmp_path))
    assert config.section("intake")["report_limit"] == 1000000
    assert config.city["name"] == load_city_config("palm-coast.toml").city["name"]
