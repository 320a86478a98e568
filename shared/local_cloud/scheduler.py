"""Schedule rules for the local cloud: ``rate(...)`` and ``cron(...)`` on the local clock.

moto stores schedule rules but never fires them. The scheduler keeps a virtual AWS time
that runs ``clock.factor()`` times faster than the wall, and when a rule is due it sends
the event AWS sends (source ``aws.events``, detail-type ``Scheduled Event``) through the
rule's own targets.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.local_cloud import clock
from shared.local_cloud.patches.eventbridge_targets import SCHEDULED_EVENT_MARK

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, start: datetime, now: datetime) -> datetime:
        periods = int((now - start).total_seconds() // self.seconds) + 1
        return start + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None = '?'
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # AWS numbering: 1 = Sunday
    years: frozenset[int] | None

    def matches(self, t: datetime) -> bool:
        aws_dow = (t.isoweekday() % 7) + 1
        return (
            t.minute in self.minutes
            and t.hour in self.hours
            and t.month in self.months
            and (self.years is None or t.year in self.years)
            and (self.days_of_month is None or t.day in self.days_of_month)
            and (self.days_of_week is None or aws_dow in self.days_of_week)
        )

    def next_after(self, start: datetime, now: datetime) -> datetime:
        t = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(t):
                return t
            t += timedelta(minutes=1)
        raise ScheduleError("cron expression never fires within a year")


def parse_schedule(expression: str) -> Rate | Cron:
    """Parse an EventBridge schedule expression, or raise ScheduleError saying why."""
    expression = expression.strip()
    if m := _RATE.match(expression):
        value, unit = int(m.group(1)), m.group(2).rstrip("s")
        if value <= 0:
            raise ScheduleError(f"{expression}: the rate must be a positive number")
        if (value == 1) != (not m.group(2).endswith("s")):
            raise ScheduleError(f"{expression}: use the singular unit for 1 and the plural otherwise")
        return Rate(value * _UNIT_SECONDS[unit])
    if m := _CRON.match(expression):
        fields = m.group(1).split()
        if len(fields) != 6:
            raise ScheduleError(
                f"{expression}: cron needs 6 fields (minutes hours day-of-month month day-of-week year)"
            )
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
        return Cron(
            minutes=_field(minute, 0, 59),
            hours=_field(hour, 0, 23),
            days_of_month=None if dom == "?" else _field(dom, 1, 31),
            months=_field(month, 1, 12, _MONTHS),
            days_of_week=None if dow == "?" else _field(dow, 1, 7, _DAYS),
            years=None if year == "*" else _field(year, 1970, 2199),
        )
    raise ScheduleError(f"{expression!r} is not rate(...) or cron(...)")


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step != 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"unsupported cron value {text!r} (L, W and # are not supported locally)")
    return int(text)


class Scheduler:
    """Fires schedule rules of every moto events backend on the local clock."""

    def __init__(self, tick_seconds: float = 0.02) -> None:
        self._tick = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wall0 = time.monotonic()
        self._aws0 = datetime.now(UTC)
        self._next: dict[str, datetime] = {}
        self._created: dict[str, datetime] = {}

    def origin(self) -> dict[str, float]:
        """What another process needs to compute ``now()``: AWS time at a wall time, and the factor."""
        wall_now = time.time()
        return {"aws_epoch": self.now().timestamp(), "wall_epoch": wall_now, "factor": clock.factor()}

    def now(self) -> datetime:
        """The local cloud's AWS time: starts at real now, runs at the clock factor."""
        return self._aws0 + timedelta(seconds=(time.monotonic() - self._wall0) * clock.factor())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-cloud-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            self.fire_due()

    def fire_due(self) -> int:
        from moto.events.models import events_backends

        fired = 0
        now = self.now()
        for account_id, regions in list(events_backends.items()):
            for region, backend in list(regions.items()):
                for bus in list(backend.event_buses.values()):
                    for rule in list(bus.rules.values()):
                        if rule.scheduled_expression and rule.state == "ENABLED":
                            fired += self._maybe_fire(rule, account_id, region, now)
        return fired

    def _maybe_fire(self, rule: Any, account_id: str, region: str, now: datetime) -> int:
        try:
            schedule = parse_schedule(rule.scheduled_expression)
        except ScheduleError:
            return 0  # PutRule validated it already; an unsupported form simply never fires
        key = rule.arn
        created = self._created.setdefault(key, now)
        due = self._next.setdefault(key, schedule.next_after(created, now))
        if now < due:
            return 0
        self._next[key] = schedule.next_after(created, now)
        rule.send_to_targets(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": account_id,
                "time": due.timestamp(),
                "region": region,
                "resources": [rule.arn],
                "detail": {},
                "ingestion-time": due.timestamp(),
                SCHEDULED_EVENT_MARK: True,
            }
        )
        return 1
