"""Sleep on a context while it is idle: the `Scheduler` contract, the in-process `IdleScheduler`, clocks.

The server-side scheduler is `sleeptime.scheduler.remote.RemoteScheduler`; the demo timeline is
`sleeptime.demo.run_timeline` (``sleeptime timeline``).
"""

from __future__ import annotations

from sleeptime.scheduler.clock import Clock, FakeClock, LoopClock, TimerHandle
from sleeptime.scheduler.events import EventKind, SchedulerEvent
from sleeptime.scheduler.idle import IdleScheduler
from sleeptime.scheduler.protocol import ScheduledSleep, Scheduler, SleepOutcome
from sleeptime.scheduler.quota import TokenQuota

__all__ = [
    "Clock",
    "EventKind",
    "FakeClock",
    "IdleScheduler",
    "LoopClock",
    "ScheduledSleep",
    "Scheduler",
    "SchedulerEvent",
    "SleepOutcome",
    "TimerHandle",
    "TokenQuota",
]
