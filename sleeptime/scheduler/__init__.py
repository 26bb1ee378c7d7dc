"""Sleep on a context while it is idle: the `Scheduler` contract, the in-process `IdleScheduler`, clocks,
and the `SleepPolicy` both schedulers consult (when and how much to sleep; `sleeptime.scheduler.policy`).

The server-side scheduler is `sleeptime.scheduler.remote.RemoteScheduler`; the demo timeline is
`sleeptime.demo.run_timeline` (``sleeptime timeline``).
"""

from __future__ import annotations

from sleeptime.scheduler.clock import Clock, FakeClock, LoopClock, TimerHandle
from sleeptime.scheduler.events import EventKind, SchedulerEvent
from sleeptime.scheduler.history import ContextHistory, Population, RatePrior
from sleeptime.scheduler.idle import IdleScheduler
from sleeptime.scheduler.policy import (
    POLICIES,
    Debounce,
    Eager,
    Lazy,
    MatchGuard,
    PlanLevel,
    SleepPlan,
    SleepPolicy,
    Value,
    policy_from_name,
)
from sleeptime.scheduler.protocol import ScheduledSleep, Scheduler, SleepOutcome
from sleeptime.scheduler.quota import TokenQuota

__all__ = [
    "POLICIES",
    "Clock",
    "ContextHistory",
    "Debounce",
    "Eager",
    "EventKind",
    "FakeClock",
    "IdleScheduler",
    "Lazy",
    "LoopClock",
    "MatchGuard",
    "PlanLevel",
    "Population",
    "RatePrior",
    "ScheduledSleep",
    "Scheduler",
    "SchedulerEvent",
    "SleepOutcome",
    "SleepPlan",
    "SleepPolicy",
    "TimerHandle",
    "TokenQuota",
    "Value",
    "policy_from_name",
]
