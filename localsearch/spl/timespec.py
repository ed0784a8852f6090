"""Time arguments of --earliest/--latest: epoch seconds, ISO-8601, or Splunk relative time modifiers.

Relative forms supported (Splunk "Specify time modifiers in your search"): `now`, `[+-]<int><unit>` with
optional snap `@<unit>`, or a bare snap `@<unit>`; units s/sec/secs/second/seconds, m/min/mins/minute/minutes,
h/hr/hrs/hour/hours, d/day/days, w/week/weeks (snap `@w0`..`@w6` = week starting Sunday..Saturday),
mon/month/months, q/qtr/quarter/quarters, y/yr/year/years. Chained offsets (`-1d@d+3h`) are accepted.
Everything is UTC. Anything else is refused with a message.
"""
from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from typing import Optional

_UNITS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
    "w": "w", "week": "w", "weeks": "w",
    "mon": "mon", "month": "mon", "months": "mon",
    "q": "q", "qtr": "q", "qtrs": "q", "quarter": "q", "quarters": "q",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}


class TimeSpecError(ValueError):
    pass


def _add(dt: datetime, n: int, unit: str) -> datetime:
    if unit in ("s", "m", "h", "d", "w"):
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
        return dt + timedelta(seconds=n * seconds)
    months = n * {"mon": 1, "q": 3, "y": 12}[unit]
    total = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(total, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)


def _snap(dt: datetime, unit: str, weekday: Optional[int]) -> datetime:
    if unit == "s":
        return dt.replace(microsecond=0)
    if unit == "m":
        return dt.replace(second=0, microsecond=0)
    if unit == "h":
        return dt.replace(minute=0, second=0, microsecond=0)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return day
    if unit == "w":
        target = 0 if weekday is None else weekday            # 0 = Sunday
        back = (day.isoweekday() % 7 - target) % 7
        return day - timedelta(days=back)
    if unit == "mon":
        return day.replace(day=1)
    if unit == "q":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    return day.replace(day=1, month=1)


_PART = re.compile(r"([+-])(\d*)([a-z]+)|@([a-z]+?)(\d)?(?=$|[+-])")


def parse_time(text: str, now: Optional[float] = None) -> float:
    """Epoch seconds (UTC) for a time argument."""
    spec = text.strip()
    if not spec:
        raise TimeSpecError("empty time")
    if re.fullmatch(r"\d+(\.\d+)?", spec):
        return float(spec)
    if spec.lower() == "now":
        return float(now if now is not None else datetime.now(timezone.utc).timestamp())
    if spec[0] in "+-@":
        base = datetime.fromtimestamp(now if now is not None else datetime.now(timezone.utc).timestamp(),
                                      timezone.utc)
        pos = 0
        low = spec.lower()
        while pos < len(low):
            m = _PART.match(low, pos)
            if not m:
                raise TimeSpecError(f"unsupported relative time {text!r} at {low[pos:]!r} "
                                    f"(supported: -24h, -7d@d, @h, +1mon, now, epoch, ISO-8601)")
            if m.group(1):
                unit = _UNITS.get(m.group(3))
                if unit is None:
                    raise TimeSpecError(f"unknown time unit {m.group(3)!r} in {text!r}")
                n = int(m.group(2) or "1")
                base = _add(base, n if m.group(1) == "+" else -n, unit)
            else:
                unit = _UNITS.get(m.group(4))
                if unit is None:
                    raise TimeSpecError(f"unknown snap unit {m.group(4)!r} in {text!r}")
                weekday = int(m.group(5)) if m.group(5) else None
                if weekday is not None and (unit != "w" or weekday > 6):
                    raise TimeSpecError(f"bad snap {m.group(0)!r} in {text!r}")
                base = _snap(base, unit, weekday)
            pos = m.end()
        return base.timestamp()
    iso = spec[:-1] + "+00:00" if spec.endswith(("Z", "z")) else spec
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise TimeSpecError(f"cannot read time {text!r}: use epoch seconds, ISO-8601 "
                            f"(2020-08-06T03:00:00Z) or a relative time such as -24h@h") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
