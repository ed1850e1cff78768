"""Schedule expressions (basegear/cloud/events/cron.py) against the EventBridge user guide,
"Schedule expressions for rules" (its cron and rate expression references and examples), and
the EventBridge Scheduler user guide, "Schedule types on EventBridge Scheduler" (time zones and
daylight saving time). The evaluator is checked against a reference written from the guide's
wording, one minute at a time."""

from __future__ import annotations

import calendar
import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from basegear.cloud.events.cron import (
    Cron,
    Rate,
    ScheduleExpressionError,
    iso_time,
    next_cron_time,
    parse_expression,
)

# -- a reference evaluator, from the user guide's wording ------------------------------------


def aws_day_of_week(moment: datetime) -> int:
    """1 is Sunday … 7 is Saturday."""
    return {6: 1, 0: 2, 1: 3, 2: 4, 3: 5, 4: 6, 5: 7}[moment.weekday()]


def last_day(moment: datetime) -> int:
    return calendar.monthrange(moment.year, moment.month)[1]


def weekday_nearest(moment: datetime, day: int) -> int | None:
    """ "The W wildcard … specifies a weekday … 3W specifies the weekday closest to the third
    day of the month", staying within the month."""
    last = last_day(moment)
    if day > last:
        return None
    candidates = [
        d for d in range(1, last + 1) if datetime(moment.year, moment.month, d).weekday() < 5
    ]
    best = min(candidates, key=lambda d: (abs(d - day), d))
    return best


class DaySpec:
    """What a day-of-month or day-of-week field the strategy drew means, day by day."""

    def __init__(self, text: str, test: object) -> None:
        self.text = text
        self.test = test

    def __call__(self, moment: datetime) -> bool:
        return bool(self.test(moment))  # type: ignore[operator]


def values_field(low: int, high: int) -> st.SearchStrategy[tuple[str, frozenset[int]]]:
    """A field of values, as text and as the set of values it means."""
    single = st.integers(low, high).map(lambda v: (str(v), frozenset({v})))
    every = st.just(("*", frozenset(range(low, high + 1))))
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda p: (f"{min(p)}-{max(p)}", frozenset(range(min(p), max(p) + 1)))
    )
    stepped = st.tuples(st.integers(low, high), st.integers(1, high - low + 1)).map(
        lambda p: (f"{p[0]}/{p[1]}", frozenset(range(p[0], high + 1, p[1])))
    )
    star_step = st.integers(1, high - low + 1).map(
        lambda step: (f"*/{step}", frozenset(range(low, high + 1, step)))
    )
    item = st.one_of(single, every, span, stepped, star_step)
    return st.lists(item, min_size=1, max_size=3).map(
        lambda items: (",".join(t for t, _ in items), frozenset().union(*(v for _, v in items)))
    )


@st.composite
def day_of_month(draw: st.DrawFn) -> DaySpec:
    kind = draw(st.sampled_from(["values", "L", "LW", "W"]))
    if kind == "L":
        return DaySpec("L", lambda m: m.day == last_day(m))
    if kind == "LW":
        return DaySpec(
            "LW",
            lambda m: (
                m.day
                == max(
                    d
                    for d in range(1, last_day(m) + 1)
                    if datetime(m.year, m.month, d).weekday() < 5
                )
            ),
        )
    if kind == "W":
        day = draw(st.integers(1, 31))
        return DaySpec(f"{day}W", lambda m: weekday_nearest(m, day) == m.day)
    text, days = draw(values_field(1, 31))
    return DaySpec(text, lambda m: m.day in days)


@st.composite
def day_of_week(draw: st.DrawFn) -> DaySpec:
    kind = draw(st.sampled_from(["values", "names", "L", "nL", "#"]))
    if kind == "L":
        return DaySpec("L", lambda m: aws_day_of_week(m) == 7)
    if kind == "nL":
        weekday = draw(st.integers(1, 7))
        return DaySpec(
            f"{weekday}L", lambda m: aws_day_of_week(m) == weekday and m.day > last_day(m) - 7
        )
    if kind == "#":
        weekday, nth = draw(st.integers(1, 7)), draw(st.integers(1, 5))
        return DaySpec(
            f"{weekday}#{nth}",
            lambda m: aws_day_of_week(m) == weekday and (m.day - 1) // 7 + 1 == nth,
        )
    if kind == "names":
        names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        first, last = sorted(draw(st.lists(st.integers(1, 7), min_size=2, max_size=2)))
        return DaySpec(
            f"{names[first - 1]}-{names[last - 1]}",
            lambda m: first <= aws_day_of_week(m) <= last,
        )
    text, days = draw(values_field(1, 7))
    return DaySpec(text, lambda m: aws_day_of_week(m) in days)


@st.composite
def crons(draw: st.DrawFn) -> tuple[str, object]:
    """A cron expression and a reference matcher of minutes."""
    minutes_text, minutes = draw(values_field(0, 59))
    hours_text, hours = draw(values_field(0, 23))
    months_text, months = draw(values_field(1, 12))
    years_text, years = draw(
        st.one_of(st.just(("*", None)), st.integers(2024, 2030).map(lambda y: (f"{y}-2199", y)))
    )
    by_week = draw(st.booleans())
    days = draw(day_of_week()) if by_week else draw(day_of_month())
    dom, dow = ("?", days.text) if by_week else (days.text, "?")
    text = f"cron({minutes_text} {hours_text} {dom} {months_text} {dow} {years_text})"

    def matches(m: datetime) -> bool:
        return (
            m.minute in minutes
            and m.hour in hours
            and m.month in months
            and (years is None or m.year >= years)
            and days(m)
        )

    return text, matches


moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2032, 12, 31))


# -- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(crons(), moments)
def test_the_next_firing_is_later_and_matches_every_field(
    case: tuple[str, object], now: datetime
) -> None:
    # EventBridge user guide, "Cron expressions reference": each field, each wildcard.
    text, matches = case
    cron = parse_expression(text)
    assert isinstance(cron, Cron)
    found = cron.next_after(now)
    if found is None:
        return
    assert found > now
    assert found.second == 0 and found.microsecond == 0
    assert matches(found), f"{text} fired at {found}, which it does not match"  # type: ignore[operator]
    assert cron.matches(found)


@settings(max_examples=150, deadline=None)
@given(crons(), moments)
def test_no_matching_minute_is_skipped(case: tuple[str, object], now: datetime) -> None:
    # EventBridge user guide, "Cron expressions reference": the rule runs at every time the
    # expression matches — the evaluator may not jump over one.
    text, matches = case
    found = parse_expression(text).next_after(now)  # type: ignore[union-attr]
    horizon = now.replace(second=0, microsecond=0) + timedelta(days=2)
    end = min(found, horizon) if found is not None else horizon
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < end:
        assert not matches(minute), f"{text} matches {minute}, before {found}"  # type: ignore[operator]
        minute += timedelta(minutes=1)


@given(
    st.integers(1, 500),
    st.sampled_from(["minute", "hour", "day"]),
    st.floats(0, 1e9),
    st.floats(0, 1e7),
)
def test_a_rate_fires_once_a_period_after_its_start(
    value: int, unit: str, start: float, later: float
) -> None:
    # EventBridge user guide, "Rate expressions reference": "A rate expression starts when you
    # create the scheduled event rule, and then it runs on a defined schedule."
    rate = parse_expression(f"rate({value} {unit}{'s' if value > 1 else ''})")
    assert isinstance(rate, Rate)
    assert rate.seconds == value * {"minute": 60, "hour": 3600, "day": 86400}[unit]
    after = start + later
    found = rate.next_after(start, after)
    assert found > after
    assert found - after <= rate.seconds + 1e-6
    periods = (found - start) / rate.seconds
    assert periods > 1 - 1e-9 and abs(periods - round(periods)) < 1e-6


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_with_a_schedule_error(text: str) -> None:
    for candidate in (text, f"cron({text})", f"rate({text})", f"at({text})"):
        with contextlib.suppress(ScheduleExpressionError):
            parse_expression(candidate, allow_at=True)


# -- the user guide's examples ----------------------------------------------------------------

NOW = datetime(2024, 5, 15, 9, 7)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # "Run at 10:00 am (UTC+0) every day"
        ("cron(0 10 * * ? *)", datetime(2024, 5, 15, 10, 0)),
        # "Run at 12:15 pm (UTC+0) every day"
        ("cron(15 12 * * ? *)", datetime(2024, 5, 15, 12, 15)),
        # "Run at 6:00 pm (UTC+0) every Monday through Friday"
        ("cron(0 18 ? * MON-FRI *)", datetime(2024, 5, 15, 18, 0)),
        # "Run at 8:00 am (UTC+0) every first day of the month"
        ("cron(0 8 1 * ? *)", datetime(2024, 6, 1, 8, 0)),
        # "Run every 15 minutes"
        ("cron(0/15 * * * ? *)", datetime(2024, 5, 15, 9, 15)),
        # "Run every 10 minutes Monday through Friday"
        ("cron(0/10 * ? * MON-FRI *)", datetime(2024, 5, 15, 9, 10)),
        # "Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0)"
        ("cron(0/5 8-17 ? * MON-FRI *)", datetime(2024, 5, 15, 9, 10)),
        # "Run at 9:00 am (UTC+0) the first Monday of each month"
        ("cron(0 9 ? * 2#1 *)", datetime(2024, 6, 3, 9, 0)),
        # L: the last day of the month; LW: its last weekday; 15W: the weekday nearest the 15th
        ("cron(0 0 L * ? *)", datetime(2024, 5, 31, 0, 0)),
        ("cron(0 0 LW 6 ? *)", datetime(2024, 6, 28, 0, 0)),
        ("cron(0 0 15W 6 ? *)", datetime(2024, 6, 14, 0, 0)),  # the 15th is a Saturday
        ("cron(0 0 1W 6 ? *)", datetime(2024, 6, 3, 0, 0)),  # the 1st is a Saturday
        # 6L: the last Friday of the month; L alone in day-of-week: Saturday
        ("cron(0 0 ? * 6L *)", datetime(2024, 5, 31, 0, 0)),
        ("cron(0 0 ? * L *)", datetime(2024, 5, 18, 0, 0)),
        # a list of names, a year
        ("cron(30 6 ? JAN,JUL SUN 2025)", datetime(2025, 1, 5, 6, 30)),
        # a range that wraps around the week
        ("cron(0 12 ? * FRI-MON *)", datetime(2024, 5, 17, 12, 0)),
    ],
)
def test_the_user_guides_examples(expression: str, expected: datetime) -> None:
    # EventBridge user guide, "Cron expressions reference", examples and wildcards.
    assert parse_expression(expression).next_after(NOW) == expected  # type: ignore[union-attr]


def test_a_year_long_past_fires_no_more() -> None:
    assert parse_expression("cron(0 0 1 1 ? 1999)").next_after(NOW) is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 10 * * * *)",  # "You can't use * in both the Day-of-month and Day-of-week fields"
        "cron(0 10 ? * ? *)",
        "cron(0 10 * *)",  # six fields
        "cron(60 10 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 10 32 * ? *)",
        "cron(0 10 ? * 8 *)",
        "cron(0 10 ? 13 ? *)",
        "cron(0 10 * * ? 1969)",
        "cron(0 10 ? * 2#6 *)",
        "cron(0/0 10 * * ? *)",
        "cron(0 10 * FOO ? *)",
        "rate(1 minutes)",  # "If the value is equal to 1, then the unit must be singular"
        "rate(5 minute)",  # "If the value is greater than 1, the unit must be plural"
        "rate(0 minutes)",
        "rate(5 seconds)",
        "rate(five minutes)",
        "every(5 minutes)",
        "at(2024-05-01T10:00:00)",  # at() is EventBridge Scheduler's, not a rule's
    ],
)
def test_what_eventbridge_refuses(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        parse_expression(expression)


def test_at_is_a_scheduler_expression() -> None:
    # EventBridge Scheduler user guide, "One-time schedules": at(yyyy-mm-ddThh:mm:ss).
    at = parse_expression("at(2024-05-01T10:30:00)", allow_at=True)
    assert at.when == datetime(2024, 5, 1, 10, 30)  # type: ignore[union-attr]
    with pytest.raises(ScheduleExpressionError):
        parse_expression("at(2024-02-30T10:30:00)", allow_at=True)


# -- time zones -------------------------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")


def epoch(*parts: int, zone: object = UTC) -> float:
    return datetime(*parts, tzinfo=zone).timestamp()  # type: ignore[arg-type, misc]


def test_a_cron_runs_in_its_time_zone() -> None:
    # EventBridge Scheduler user guide, "Time zones on EventBridge Scheduler".
    cron = parse_expression("cron(0 9 * * ? *)")
    found = next_cron_time(cron, epoch(2024, 5, 15, 12, 0), NEW_YORK)  # type: ignore[arg-type]
    assert found == epoch(2024, 5, 15, 13, 0)  # 9:00 EDT is 13:00 UTC
    assert next_cron_time(cron, epoch(2024, 5, 15, 12, 0)) == epoch(2024, 5, 16, 9, 0)  # type: ignore[arg-type]


def test_a_time_skipped_by_daylight_saving_does_not_fire() -> None:
    # EventBridge Scheduler user guide, "Daylight saving time on EventBridge Scheduler": "your
    # schedule invocation gets skipped if the cron expression falls on a non-existent date and
    # time". New York's clocks went from 2:00 to 3:00 on 10 March 2024.
    cron = parse_expression("cron(30 2 * * ? *)")
    found = next_cron_time(cron, epoch(2024, 3, 9, 12, 0), NEW_YORK)  # type: ignore[arg-type]
    assert found == epoch(2024, 3, 11, 2, 30, zone=NEW_YORK)


def test_a_time_repeated_by_daylight_saving_fires_once() -> None:
    # Same section: when the time shifts back, "your schedule runs only once". New York's
    # clocks went from 2:00 back to 1:00 on 3 November 2024.
    cron = parse_expression("cron(30 1 * * ? *)")
    first = next_cron_time(cron, epoch(2024, 11, 2, 12, 0), NEW_YORK)  # type: ignore[arg-type]
    assert first == epoch(2024, 11, 3, 5, 30)  # 1:30 EDT
    second = next_cron_time(cron, first, NEW_YORK)  # type: ignore[arg-type]
    assert second == epoch(2024, 11, 4, 6, 30)  # the next day's 1:30 EST, not 1:30 EST today


def test_times_are_written_as_eventbridge_writes_them() -> None:
    moment = epoch(2024, 5, 15, 9, 7) + 0.25
    assert iso_time(moment) == "2024-05-15T09:07:00Z"
    assert iso_time(moment, milliseconds=True) == "2024-05-15T09:07:00.250Z"


@given(moments)
def test_an_every_minute_cron_fires_the_next_minute(now: datetime) -> None:
    cron = parse_expression("cron(* * * * ? *)")
    found = cron.next_after(now)  # type: ignore[union-attr]
    assume(found is not None)
    assert found == now.replace(second=0, microsecond=0) + timedelta(minutes=1)
