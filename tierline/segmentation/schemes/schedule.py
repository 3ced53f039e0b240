"""When a scheme runs by itself: the next slot of its frequency that is outside freeze windows.

Slots are at 02:00 UTC: every day, Mondays, the 1st of each month, or the 1st of January,
April, July and October. A slot on a frozen day is skipped, not moved, so runs keep their
rhythm after a peak-season freeze.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tierline.segmentation.schemes.model import FreezeWindow, Scheme

RUN_TIME = time(2, 0, tzinfo=UTC)
_SEARCH_DAYS = 2 * 366  # a freeze covering every slot for two years means "never"


def in_freeze(scheme: Scheme, day: date) -> FreezeWindow | None:
    """The first freeze window containing ``day`` (bounds inclusive, may wrap the year end)."""
    key = f"{day.month:02d}-{day.day:02d}"
    for window in scheme.schedule.freeze:
        if window.start <= window.end:
            inside = window.start <= key <= window.end
        else:
            inside = key >= window.start or key <= window.end
        if inside:
            return window
    return None


def next_run_after(scheme: Scheme, after: datetime) -> datetime | None:
    """The first scheduled run strictly after ``after`` (naive means UTC); None for manual."""
    frequency = scheme.schedule.frequency
    if frequency == "manual":
        return None
    moment = after if after.tzinfo else after.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    day = moment.date()
    if datetime.combine(day, RUN_TIME) <= moment:
        day += timedelta(days=1)
    last = day + timedelta(days=_SEARCH_DAYS)
    while day <= last:
        if _is_slot(frequency, day) and in_freeze(scheme, day) is None:
            return datetime.combine(day, RUN_TIME)
        day = _next_candidate(frequency, day)
    return None


def _is_slot(frequency: str, day: date) -> bool:
    if frequency == "daily":
        return True
    if frequency == "weekly":
        return day.weekday() == 0
    if frequency == "monthly":
        return day.day == 1
    return day.day == 1 and day.month in (1, 4, 7, 10)


def _next_candidate(frequency: str, day: date) -> date:
    """The next day that could be a slot (jumps to month starts for monthly/quarterly)."""
    if frequency in ("monthly", "quarterly"):
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)
