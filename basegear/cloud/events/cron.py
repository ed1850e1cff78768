"""Schedule expressions as EventBridge reads them: ``rate(value unit)``, ``cron(fields)`` and,
for EventBridge Scheduler, ``at(yyyy-mm-ddThh:mm:ss)`` — parsed, and evaluated to "when does it
fire next".

- EventBridge user guide, "Schedule expressions for rules" (rate expressions reference, cron
  expressions reference): six cron fields ``minutes hours day-of-month month day-of-week
  year``; wildcards ``,`` ``-`` ``*`` ``/`` everywhere, ``?`` ``L`` ``W`` in day-of-month, ``?``
  ``L`` ``#`` in day-of-week; exactly one of the two day fields is ``?``; months ``1-12`` or
  ``JAN-DEC``, days of the week ``1-7`` or ``SUN-SAT`` (1 is Sunday); years 1970-2199. A rate's
  unit is singular for 1 and plural otherwise.
- EventBridge Scheduler user guide, "Schedule types on EventBridge Scheduler": the same cron and
  rate syntax, plus one-time ``at()`` schedules, evaluated in ``ScheduleExpressionTimezone``.

Cron expressions are evaluated on naive wall-clock datetimes (``Cron.next_after``); converting
from and to a time zone is :func:`next_cron_time`'s job. A range whose start is after its end
wraps around (``FRI-MON``, ``22-2``), as in Quartz, whose syntax EventBridge's follows. No
schedule fires more often than once a minute (the user guide: "the minimum precision for
schedules is 1 minute").
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_YEAR = 1970
MAX_YEAR = 2199
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_ONE_MINUTE = timedelta(minutes=1)
_DST_WINDOW = 3 * 3600  # longer than any shift of clocks


class ScheduleExpressionError(ValueError):
    """The expression is not one EventBridge accepts (its API answers ValidationException,
    "Parameter ScheduleExpression is not valid")."""


@dataclass(frozen=True)
class Rate:
    """``rate(value unit)``: every ``seconds``, counted from when the schedule starts."""

    seconds: int

    def next_after(self, start: float, after: float) -> float:
        """The first firing later than ``after`` of a rate that fires at ``start + n *
        seconds`` for n ≥ 1 (epoch seconds)."""
        if after < start:
            return start + self.seconds
        periods = int((after - start) // self.seconds) + 1
        return start + periods * self.seconds


@dataclass(frozen=True)
class At:
    """``at(yyyy-mm-ddThh:mm:ss)``: once, at this wall-clock time of the schedule's zone."""

    when: datetime  # naive


DayRule = Callable[[int, int, int], bool]  # (year, month, day) → fires that day


@dataclass(frozen=True)
class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)``."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_rules: tuple[DayRule, ...]  # from day-of-month, or from day-of-week when that is "?"

    def day_matches(self, year: int, month: int, day: int) -> bool:
        return any(rule(year, month, day) for rule in self.day_rules)

    def matches(self, moment: datetime) -> bool:
        """Whether the cron fires in the minute of the naive datetime ``moment``."""
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and moment.year in self.years
            and self.day_matches(moment.year, moment.month, moment.day)
        )

    def next_after(self, after: datetime) -> datetime | None:
        """The first minute later than the naive datetime ``after`` that the cron fires in;
        None if there is none before 2200."""
        start = after.replace(second=0, microsecond=0) + _ONE_MINUTE
        for year in self.years:
            if year < start.year:
                continue
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                days = calendar.monthrange(year, month)[1]
                same_month = (year, month) == (start.year, start.month)
                for day in range(start.day if same_month else 1, days + 1):
                    if not self.day_matches(year, month, day):
                        continue
                    found = self._first_time(year, month, day, start)
                    if found is not None:
                        return found
        return None

    def _first_time(self, year: int, month: int, day: int, start: datetime) -> datetime | None:
        same_day = (year, month, day) == (start.year, start.month, start.day)
        for hour in self.hours:
            if same_day and hour < start.hour:
                continue
            for minute in self.minutes:
                if same_day and hour == start.hour and minute < start.minute:
                    continue
                return datetime(year, month, day, hour, minute)
        return None


Expression = Rate | Cron | At

_WRAPPED = re.compile(r"^(rate|cron|at)\((.*)\)$", re.DOTALL)
_RATE = re.compile(r"^\s*(\d+)\s+([a-z]+)\s*$")
_AT = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\s*$")


def parse_expression(text: str, *, allow_at: bool = False) -> Expression:
    """``rate(…)``, ``cron(…)`` or (with ``allow_at``, EventBridge Scheduler) ``at(…)``.
    Raises ``ScheduleExpressionError``."""
    match = _WRAPPED.match(text.strip())
    if match is None:
        raise ScheduleExpressionError(
            f"{text!r} is not a schedule expression: expected rate(…) or cron(…)"
            + (" or at(…)" if allow_at else "")
        )
    kind, body = match[1], match[2]
    if kind == "rate":
        return parse_rate(body)
    if kind == "cron":
        return parse_cron(body)
    if not allow_at:
        raise ScheduleExpressionError("at(…) is an EventBridge Scheduler expression, not a rule's")
    return parse_at(body)


def parse_rate(body: str) -> Rate:
    """``value unit``: a positive whole number and minute(s), hour(s) or day(s); singular for
    1 and plural otherwise (EventBridge user guide, "Rate expressions reference")."""
    match = _RATE.match(body)
    if match is None:
        raise ScheduleExpressionError(f"rate({body}): expected rate(value unit), e.g. 5 minutes")
    value, unit = int(match[1]), match[2]
    singular = unit.removesuffix("s")
    if value < 1 or singular not in RATE_UNITS:
        raise ScheduleExpressionError(
            f"rate({body}): the value must be positive and the unit minute, hour or day"
        )
    if (value == 1) != (unit == singular):
        raise ScheduleExpressionError(
            f"rate({body}): the unit is singular for 1 and plural otherwise"
        )
    return Rate(value * RATE_UNITS[singular])


def parse_at(body: str) -> At:
    match = _AT.match(body)
    if match is None:
        raise ScheduleExpressionError(f"at({body}): expected at(yyyy-mm-ddThh:mm:ss)")
    try:
        return At(datetime(*(int(part) for part in match.groups())))  # type: ignore[arg-type]
    except ValueError as exc:
        raise ScheduleExpressionError(f"at({body}): {exc}") from None


# -- cron -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # JAN… or SUN…, numbered from ``low``
    wraps: bool = True


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, DAY_NAMES)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR, wraps=False)


def parse_cron(body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleExpressionError(
            f"cron({body}): expected six fields — minutes hours day-of-month month day-of-week year"
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleExpressionError(
            f"cron({body}): exactly one of day-of-month and day-of-week must be ?"
        )
    try:
        day_rules = (
            _day_of_week_rules(day_of_week)
            if day_of_month == "?"
            else _day_of_month_rules(day_of_month)
        )
        return Cron(
            text=f"cron({body})",
            minutes=_values(minutes, _MINUTES),
            hours=_values(hours, _HOURS),
            months=_values(month, _MONTH),
            years=_values(year, _YEAR),
            day_rules=day_rules,
        )
    except ScheduleExpressionError as exc:
        raise ScheduleExpressionError(f"cron({body}): {exc}") from None


def _values(text: str, field: _Field) -> tuple[int, ...]:
    chosen: set[int] = set()
    for item in text.split(","):
        chosen.update(_item_values(item, field))
    return tuple(sorted(chosen))


def _item_values(item: str, field: _Field) -> list[int]:
    """One comma-separated item: ``*``, ``n``, ``a-b``, each optionally ``/step``."""
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise ScheduleExpressionError(f"{field.name}: the increment in {item!r} is not valid")
        step = int(step_text)
    if base == "*":
        start, end = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _number(first, field), _number(last, field)
    else:
        start = _number(base, field)
        end = field.high if slash else start
    span = _span(start, end, field, item)
    return span[::step]


def _span(start: int, end: int, field: _Field, item: str) -> list[int]:
    if start <= end:
        return list(range(start, end + 1))
    if not field.wraps:
        raise ScheduleExpressionError(f"{field.name}: the range {item!r} runs backwards")
    return [*range(start, field.high + 1), *range(field.low, end + 1)]


def _number(text: str, field: _Field) -> int:
    upper = text.upper()
    if upper in field.names:
        return field.low + field.names.index(upper)
    if not text.isdigit():
        raise ScheduleExpressionError(f"{field.name}: {text!r} is not a value")
    value = int(text)
    if not field.low <= value <= field.high:
        raise ScheduleExpressionError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    return value


def aws_weekday(year: int, month: int, day: int) -> int:
    """1 for Sunday … 7 for Saturday, as cron's day-of-week numbers them."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _day_of_month_rules(text: str) -> tuple[DayRule, ...]:
    """``L`` is the month's last day, ``LW`` its last weekday, ``nW`` the weekday nearest day
    n within the same month; anything else is a set of days (a day past the month's end never
    fires)."""
    rules: list[DayRule] = []
    plain: list[str] = []
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            rules.append(_last_day)
        elif upper == "LW":
            rules.append(_last_weekday)
        elif upper.endswith("W"):
            rules.append(_nearest_weekday(_number(upper[:-1], _DAY_OF_MONTH)))
        else:
            plain.append(item)
    if plain:
        days = frozenset(_values(",".join(plain), _DAY_OF_MONTH))
        rules.append(lambda year, month, day: day in days)
    return tuple(rules)


def _day_of_week_rules(text: str) -> tuple[DayRule, ...]:
    """``L`` alone is Saturday, the week's last day; ``nL`` the month's last day n;
    ``n#k`` its k-th day n (k from 1 to 5); anything else is a set of days of the week."""
    rules: list[DayRule] = []
    plain: list[str] = []
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            plain.append("7")
        elif upper.endswith("L"):
            rules.append(_last_in_month(_number(upper[:-1], _DAY_OF_WEEK)))
        elif "#" in upper:
            weekday_text, _, nth_text = upper.partition("#")
            if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
                raise ScheduleExpressionError(f"day-of-week: {item!r} needs #1 to #5")
            rules.append(_nth_in_month(_number(weekday_text, _DAY_OF_WEEK), int(nth_text)))
        else:
            plain.append(item)
    if plain:
        weekdays = frozenset(_values(",".join(plain), _DAY_OF_WEEK))
        rules.append(lambda year, month, day: aws_weekday(year, month, day) in weekdays)
    return tuple(rules)


def _last_day(year: int, month: int, day: int) -> bool:
    return day == calendar.monthrange(year, month)[1]


def _last_weekday(year: int, month: int, day: int) -> bool:
    last = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, last) >= 5:
        last -= 1
    return day == last


def _nearest_weekday(target: int) -> DayRule:
    def rule(year: int, month: int, day: int) -> bool:
        last = calendar.monthrange(year, month)[1]
        if target > last:
            return False
        weekday = calendar.weekday(year, month, target)  # Monday 0 … Sunday 6
        chosen = target
        if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
            chosen = target - 1 if target > 1 else target + 2
        elif weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
            chosen = target + 1 if target < last else target - 2
        return day == chosen

    return rule


def _last_in_month(weekday: int) -> DayRule:
    def rule(year: int, month: int, day: int) -> bool:
        return (
            aws_weekday(year, month, day) == weekday
            and day + 7 > calendar.monthrange(year, month)[1]
        )

    return rule


def _nth_in_month(weekday: int, nth: int) -> DayRule:
    def rule(year: int, month: int, day: int) -> bool:
        return aws_weekday(year, month, day) == weekday and (day - 1) // 7 + 1 == nth

    return rule


# -- time zones -----------------------------------------------------------------------------


def time_zone(name: str | None) -> tzinfo:
    """``ScheduleExpressionTimezone`` (an IANA name; UTC when absent)."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleExpressionError(f"unknown time zone {name!r}") from None


def next_cron_time(cron: Cron, after: float, zone: tzinfo = UTC) -> float | None:
    """The next firing of ``cron`` later than the epoch time ``after``, the cron read as
    wall-clock time in ``zone``. Daylight saving time as EventBridge Scheduler handles it
    (Scheduler user guide, "Daylight saving time"): a wall-clock time that does not exist
    (skipped when clocks go forward) does not fire, and one that happens twice (when clocks
    go back) fires once, the first time."""
    now = datetime.fromtimestamp(after, zone)
    candidate = now.replace(tzinfo=None)
    if datetime.fromtimestamp(after - _DST_WINDOW, zone).utcoffset() != now.utcoffset():
        # Clocks went back in the last hours, so wall-clock time may repeat: search from
        # before the repeat and skip what is not later than ``after``.
        candidate -= timedelta(seconds=_DST_WINDOW)
    while True:
        found = cron.next_after(candidate)
        if found is None:
            return None
        moment = found.replace(tzinfo=zone)
        if (
            zone is not UTC
            and moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != found
        ):
            candidate = found  # a skipped wall-clock time
            continue
        epoch = moment.timestamp()
        if epoch > after:
            return epoch
        candidate = found


def at_time(at: At, zone: tzinfo = UTC) -> float:
    return at.when.replace(tzinfo=zone).timestamp()


def iso_time(epoch: float, *, milliseconds: bool = False) -> str:
    """``2024-05-01T12:00:00Z`` (``…00.000Z`` with ``milliseconds``), in UTC."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
