"""`make soak`'s own rules (bench/soak.py): the memory growth it judges and the config it serves."""
from __future__ import annotations

from bench.soak import MAX_GROWTH, city_config, growth


def test_growth_compares_the_first_and_last_minute_medians():
    steady = [(0, 240.0), (30, 300.0), (60.2, 310.0), (300, 312.0), (570, 314.0), (600.1, 316.0)]
    first, last, grew = growth(steady, 600)
    assert (first, last) == (305.0, 315.0) and grew < MAX_GROWTH  # the idle server (0 s) is not the baseline
    leaking = [(0, 240.0), (30, 300.0), (60, 310.0), (300, 340.0), (570, 380.0), (600, 390.0)]
    assert growth(leaking, 600)[2] > MAX_GROWTH


def test_soak_serves_the_demo_city_with_a_report_limit_for_one_address(tmp_path):
    from core.config import load_city_config

    config = load_city_config(city_config(tmp_path))
    assert config.section("intake")["report_limit"] == 1000000
    assert config.city["name"] == load_city_config("palm-coast.toml").city["name"]
