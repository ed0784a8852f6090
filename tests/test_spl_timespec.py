"""--earliest/--latest values: epoch, ISO-8601, Splunk relative time modifiers (UTC)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from localsearch.spl.timespec import TimeSpecError, parse_time

# Wednesday 2024-03-13 10:37:21.5 UTC
NOW = datetime(2024, 3, 13, 10, 37, 21, 500000, tzinfo=timezone.utc).timestamp()


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("spec,expected", [
    ("1710326241", 1710326241.0),
    ("0", 0.0),
    ("2024-03-12T09:15:00Z", ts(2024, 3, 12, 9, 15)),
    ("2024-03-12T09:15:00", ts(2024, 3, 12, 9, 15)),                 # no zone: UTC
    ("2024-03-12T11:15:00+02:00", ts(2024, 3, 12, 9, 15)),
    ("2024-03-12", ts(2024, 3, 12)),
    ("now", NOW),
    ("-24h", NOW - 86400),
    ("-24h@h", ts(2024, 3, 12, 10)),
    ("-70m@m", ts(2024, 3, 13, 9, 27)),
    ("@d", ts(2024, 3, 13)),
    ("-7d@d", ts(2024, 3, 6)),
    ("@w0", ts(2024, 3, 10)),                                          # Sunday
    ("@w1", ts(2024, 3, 11)),                                          # Monday
    ("-1mon@mon", ts(2024, 2, 1)),
    ("@y", ts(2024, 1, 1)),
    ("-1d@d+3h", ts(2024, 3, 12, 3)),
    ("-30s", NOW - 30),
    ("+1h", NOW + 3600),
    ("@q", ts(2024, 1, 1)),
])
def test_parse_time(spec: str, expected: float) -> None:
    assert parse_time(spec, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize("spec", ["yesterday", "-3fortnights", "@w9", "", "-1h@", "12:00"])
def test_refused_with_a_message(spec: str) -> None:
    with pytest.raises(TimeSpecError):
        parse_time(spec, now=NOW)
