"""Slot arithmetic of schedules (core/slots.py): pure, no Redis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tickr_app.core.errors import InvalidRequest
from tickr_app.core.slots import (
    count_slots,
    make_timing,
    next_after,
    parse_interval,
    plan_due,
    prev_before,
    upcoming,
)

BERLIN = ZoneInfo("Europe/Berlin")


def ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def local(slot: int, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromtimestamp(slot / 1000, timezone.utc).astimezone(zone)


# -- intervals ------------------------------------------------------------------------------


def test_interval_slots_are_anchored_at_the_epoch_or_start() -> None:
    t = make_timing(every_ms=5 * 60_000)
    assert next_after(t, ms(utc(2030, 1, 1, 9, 1))) == ms(utc(2030, 1, 1, 9, 5))
    assert next_after(t, ms(utc(2030, 1, 1, 9, 5))) == ms(utc(2030, 1, 1, 9, 10))  # strictly after
    start = ms(utc(2030, 1, 1, 9, 2, 30))
    t = make_timing(every_ms=60_000, start_ms=start)
    assert next_after(t, 0) == start
    assert upcoming(t, start, 2) == [start + 60_000, start + 120_000]
    assert prev_before(t, start) is None
    assert prev_before(t, start + 90_000) == start + 60_000


def test_interval_end_is_inclusive_and_then_the_schedule_ends() -> None:
    t = make_timing(every_ms=1000, start_ms=10_000, end_ms=12_000)
    assert upcoming(t, 0, 10) == [10_000, 11_000, 12_000]
    assert next_after(t, 12_000) is None
    assert count_slots(t, 0, 100_000) == 3


def test_interval_ignores_time_zones() -> None:
    a = make_timing(every_ms=3_600_000, tz="Europe/Berlin")
    b = make_timing(every_ms=3_600_000)
    after = ms(utc(2026, 3, 29, 0, 30))  # across Berlin's spring-forward night
    assert upcoming(a, after, 5) == upcoming(b, after, 5)


# -- cron, time zones and DST --------------------------------------------------------------


def test_cron_in_a_time_zone_follows_local_wall_time() -> None:
    t = make_timing(cron="0 9 * * MON-FRI", tz="Europe/Berlin")
    winter = upcoming(t, ms(utc(2030, 1, 4, 12)), 3)  # Friday noon
    assert [local(s).strftime("%a %H:%M") for s in winter] == ["Mon 09:00", "Tue 09:00", "Wed 09:00"]
    assert local(winter[0], ZoneInfo("UTC")).hour == 8  # CET is UTC+1
    summer = next_after(t, ms(utc(2030, 7, 1, 12)))
    assert summer is not None and local(summer, ZoneInfo("UTC")).hour == 7  # CEST is UTC+2


def test_spring_forward_a_missing_local_time_runs_once_at_the_end_of_the_gap() -> None:
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    t = make_timing(cron="30 2 * * *", tz="Europe/Berlin")
    slots = upcoming(t, ms(utc(2026, 3, 27, 12)), 4)
    days = [local(s).strftime("%m-%d %H:%M %Z") for s in slots]
    assert days == ["03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST", "03-31 02:30 CEST"]


def test_fall_back_a_repeated_local_time_runs_once_at_its_first_occurrence() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice.
    t = make_timing(cron="30 2 * * *", tz="Europe/Berlin")
    slots = upcoming(t, ms(utc(2026, 10, 24, 12)), 3)
    assert [local(s).strftime("%m-%d %H:%M %Z") for s in slots] == [
        "10-25 02:30 CEST",
        "10-26 02:30 CET",
        "10-27 02:30 CET",
    ]


def test_fall_back_day_hourly_slots_follow_real_hours_never_the_same_instant_twice() -> None:
    t = make_timing(cron="0 * * * *", tz="Europe/Berlin")
    day_start = ms(datetime(2026, 10, 25, tzinfo=BERLIN)) - 1
    slots = [s for s in upcoming(t, day_start, 30) if local(s).date() == datetime(2026, 10, 25).date()]
    assert len(slots) == 25  # the repeated hour is a real hour of its own
    assert all(b - a == 3_600_000 for a, b in zip(slots, slots[1:]))
    assert len(set(slots)) == len(slots)


def test_cron_with_seconds_and_nicknames() -> None:
    t = make_timing(cron="*/15 * * * * *")  # six fields: seconds first
    assert upcoming(t, ms(utc(2030, 1, 1, 0, 0, 1)), 3) == [
        ms(utc(2030, 1, 1, 0, 0, 15)),
        ms(utc(2030, 1, 1, 0, 0, 30)),
        ms(utc(2030, 1, 1, 0, 0, 45)),
    ]
    daily = make_timing(cron="@daily")
    assert next_after(daily, ms(utc(2030, 1, 1, 5))) == ms(utc(2030, 1, 2))
    assert prev_before(daily, ms(utc(2030, 1, 2))) == ms(utc(2030, 1, 1))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "not cron"}, "cron"),
        ({"cron": "* * * * *", "every_ms": 1000}, "cron"),
        ({}, "cron"),
        ({"every_ms": 1}, "every"),
        ({"cron": "* * * * *", "tz": "Mars/Olympus"}, "tz"),
        ({"cron": "* * * * *", "tz": "Europe"}, "tz"),  # a folder of the zone database, half typed
        ({"cron": "* * * * *", "tz": "../../etc/passwd"}, "tz"),
        ({"every_ms": 1000, "start_ms": 5000, "end_ms": 4000}, "end"),
    ],
)
def test_invalid_timings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        make_timing(**kwargs)  # type: ignore[arg-type]
    assert info.value.details[0]["field"] == field


def test_parse_interval() -> None:
    assert parse_interval("90s") == 90_000
    assert parse_interval("1h30m") == 5_400_000
    assert parse_interval("250ms") == 250
    assert parse_interval("1.5") == 1500
    for junk in ("soon", "inf", "nan", "1e999", "5x", "m5", ""):
        with pytest.raises(InvalidRequest):
            parse_interval(junk)


# -- what to fire --------------------------------------------------------------------------


def test_on_time_fires_the_due_slot_and_never_one_after_now() -> None:
    t = make_timing(every_ms=1000)
    assert plan_due(t, 10_000, 9_999).fire == ()  # not due yet: never early
    p = plan_due(t, 10_000, 10_000)
    assert (p.fire, p.skipped, p.next_ms) == ((10_000,), 0, 11_000)
    late = plan_due(t, 10_000, 12_500)  # late but within the grace: each slot, once
    assert (late.fire, late.skipped, late.next_ms) == ((10_000, 11_000, 12_000), 0, 13_000)


def test_misfire_policies_after_an_outage() -> None:
    t = make_timing(every_ms=1000)
    # next slot 10 s, now 100 s, grace 5 s: slots 10..94 s were missed, 95..100 s are late.
    late = (95_000, 96_000, 97_000, 98_000, 99_000, 100_000)
    skip = plan_due(t, 10_000, 100_000, misfire="skip", grace_ms=5000)
    assert (skip.fire, skip.skipped, skip.next_ms) == (late, 85, 101_000)
    once = plan_due(t, 10_000, 100_000, misfire="once", grace_ms=5000)
    assert (once.fire, once.skipped) == ((94_000, *late), 84)
    capped = plan_due(t, 10_000, 100_000, misfire="all", grace_ms=5000, max_catchup=3)
    assert (capped.fire, capped.skipped) == ((92_000, 93_000, 94_000, *late), 82)
    every = plan_due(t, 10_000, 100_000, misfire="all", grace_ms=5000, max_catchup=1000)
    assert every.fire == tuple(range(10_000, 100_001, 1000)) and every.skipped == 0


def test_misfire_with_cron_uses_reverse_iteration() -> None:
    t = make_timing(cron="* * * * *")
    p = plan_due(t, 60_000, 600_500, misfire="all", grace_ms=120_000, max_catchup=3)
    assert p.fire == (360_000, 420_000, 480_000, 540_000, 600_000)
    assert p.skipped == 5 and p.next_ms == 660_000


def test_plan_stops_at_the_end_of_the_schedule() -> None:
    t = make_timing(every_ms=1000, end_ms=12_000)
    p = plan_due(t, 11_000, 20_000, grace_ms=60_000)
    assert p.fire == (11_000, 12_000) and p.next_ms == -1


def test_large_catch_up_is_split_across_calls_without_skipping() -> None:
    t = make_timing(every_ms=10)
    p = plan_due(t, 0, 50_000, grace_ms=60_000)
    assert len(p.fire) == 500 and p.next_ms == p.fire[-1] + 10 and p.skipped == 0


def test_start_after_end_of_outage_and_timedelta_inputs() -> None:
    from tickr_app.core.slots import interval_ms, to_ms

    assert interval_ms(timedelta(minutes=5)) == 300_000
    assert to_ms(utc(2030, 1, 1), "start") == ms(utc(2030, 1, 1))
    with pytest.raises(InvalidRequest) as info:
        to_ms(datetime(2030, 1, 1), "start")
    assert info.value.details[0]["field"] == "start"
    with pytest.raises(InvalidRequest):
        interval_ms(float("inf"))
    with pytest.raises(InvalidRequest):
        interval_ms(1e308)  # finite, but not in milliseconds
    with pytest.raises(InvalidRequest):
        to_ms(float("nan"), "end")
