"""When and how much to sleep: the `SleepPolicy` a scheduler consults on every change and question.

A policy sees one context's `ContextHistory` (changes, questions with their rate, recency and burstiness,
size, the last sleep's tokens and how often the published version's predicted questions matched real
ones) and returns a `SleepPlan` (sleep after `delay` seconds, with these samples / rounds / predicted
questions) or None (do not sleep on this revision now). The scheduler keeps the mechanics: timers,
concurrency, the token quotas (the global limit every plan runs under), stale-run refusal.

Built in (``policy_from_name``):

- `Debounce` (the default; the scheduler's behaviour before policies): sleep every change once the
  context has been quiet `idle_after` seconds.
- `Eager`: sleep every change at once (delay 0); a newer change still drops a pending run.
- `Lazy`: sleep only after the first question on a revision (never on a revision nobody asked about).
- `Value`: sleep when expected questions before the next change x expected gain per sleep token pays
  for the sleep; on a change it sleeps a context whose questions are expected, otherwise it waits for a
  question and decides again (a question in a burst predicts more).

Every built-in policy holds a `MatchGuard`: once the predicted questions stop matching the real ones
(the context's own record, shrunk towards the rate over all contexts), it stops paying for sleeps on
that context. Matches are reported by the app (`IdleScheduler.ask` does it from each answer's match
score) or by `record_query(..., matched=...)`; with no reports the guard never trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sleeptime.errors import InvalidInputError
from sleeptime.scheduler.history import ContextHistory

__all__ = [
    "POLICIES",
    "Debounce",
    "Eager",
    "Lazy",
    "MatchGuard",
    "PlanLevel",
    "SleepPlan",
    "SleepPolicy",
    "Value",
    "policy_from_name",
]


@dataclass(frozen=True)
class SleepPlan:
    """Sleep on the context after `delay` seconds of quiet, with these settings (None: the app's own)."""

    delay: float
    samples: int | None = None
    max_rounds: int | None = None
    n_questions: int | None = None
    reason: str = ""

    def overrides(self) -> dict[str, Any]:
        """The `SleepTime.sleep` options this plan sets."""
        names = ("samples", "max_rounds", "n_questions")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


@runtime_checkable
class SleepPolicy(Protocol):
    """Decides, per context, whether to sleep, when, and how much."""

    name: str

    def on_change(self, history: ContextHistory, now: float) -> SleepPlan | None:
        """The context changed (`history` already counts it): the plan for the new revision, or None (none)."""
        ...

    def on_query(self, history: ContextHistory, now: float) -> SleepPlan | None:
        """A question arrived (already counted): a plan to schedule when the current revision has no run yet,
        or None (leave it as it is)."""
        ...

    def on_match(self, history: ContextHistory, now: float, matched: bool) -> None:
        """Whether the published version's predicted questions matched a question (already counted), reported
        once it was answered."""
        ...

    def priority(self, history: ContextHistory, now: float) -> float | None:
        """Order among due contexts when fewer slots than due runs (higher first), asked when a run falls
        due and again when it would start; None: the run is no longer wanted (it is dropped)."""
        ...


@dataclass
class MatchGuard:
    """Stops sleeps whose predicted questions no longer match the real ones.

    The match rate of a context is its own recent record on the published version, shrunk towards the rate
    over every context's recent questions (`weight` pseudo-reports of it), so a context with few questions
    of its own follows the others. Below `threshold` the context is not slept; while the rate over all
    contexts is below it (a shift: predictions stopped matching anywhere), nothing is slept until it
    recovers (reports keep coming from the versions already published).
    """

    threshold: float = 0.2
    weight: float = 4.0
    prior: float = 0.65
    """The rate before any report: the share of real questions whose nearest predicted question scored at
    least 0.6 in evals/results/qwen15b-base (65 of 100)."""
    window: float = 0.02
    """Weight of each report in the rate over all contexts (about the last 50 reports count)."""
    global_rate: float = field(init=False)
    tripped_at: float | None = field(default=None, init=False)
    """When the rate over all contexts first fell below `threshold` (a shift detected)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise InvalidInputError(f"threshold must be in [0, 1], got {self.threshold!r}")
        self.global_rate = self.prior

    def observe(self, matched: bool, now: float) -> None:
        self.global_rate += self.window * (float(matched) - self.global_rate)
        if self.tripped_at is None and self.global_rate < self.threshold:
            self.tripped_at = now

    def rate(self, history: ContextHistory) -> float:
        return history.match_rate(self.global_rate, self.weight)

    def allows(self, history: ContextHistory) -> bool:
        return self.global_rate >= self.threshold and self.rate(history) >= self.threshold


def _recency(history: ContextHistory, guard: MatchGuard | None) -> float | None:
    if guard is not None and not guard.allows(history):
        return None
    return history.last_query


@dataclass
class Debounce:
    """Sleep every change once the context has been quiet `idle_after` seconds (most recently asked first)."""

    idle_after: float = 30.0
    guard: MatchGuard | None = field(default_factory=MatchGuard)
    name: str = "debounce"

    def on_change(self, history: ContextHistory, now: float) -> SleepPlan | None:
        if self.guard is not None and not self.guard.allows(history):
            return None
        return SleepPlan(self.idle_after, reason="changed")

    def on_query(self, history: ContextHistory, now: float) -> SleepPlan | None:
        return None

    def on_match(self, history: ContextHistory, now: float, matched: bool) -> None:
        if self.guard is not None:
            self.guard.observe(matched, now)

    def priority(self, history: ContextHistory, now: float) -> float | None:
        return _recency(history, self.guard)


@dataclass
class Eager(Debounce):
    """Sleep every change at once (a newer change still drops the pending run)."""

    idle_after: float = 0.0
    name: str = "eager"


@dataclass
class Lazy(Debounce):
    """Sleep only once a revision has been asked about: the first question schedules the run."""

    idle_after: float = 0.0
    name: str = "lazy"

    def on_change(self, history: ContextHistory, now: float) -> SleepPlan | None:
        return None

    def on_query(self, history: ContextHistory, now: float) -> SleepPlan | None:
        if self.guard is not None and not self.guard.allows(history):
            return None
        return SleepPlan(self.idle_after, reason="first question on this revision")


@dataclass(frozen=True)
class PlanLevel:
    """One size of sleep run, with its cost and gain relative to one sample of one round."""

    samples: int
    max_rounds: int
    cost: float
    gain: float


# Calibration (evals/results/scaling-sleep15b-wake05b-base, budget 1): k = 1, 2, 4 majority-merged samples
# spent 167, 288, 545 sleep output tokens per context and gained 11, 4, 2 right of 100 over test-time only
# (13, 6, 4 against 2). `Value` picks the level with the most net value: on these records always k = 1.
DEFAULT_LEVELS = (
    PlanLevel(1, 1, 1.0, 1.0),
    PlanLevel(2, 1, 288 / 167, 4 / 11),
    PlanLevel(4, 1, 545 / 167, 2 / 11),
)


@dataclass
class Value:
    """Sleep when (expected questions before the next change) x (match rate) x (value of a matched
    question) exceeds the sleep's cost, all in sleep-token units.

    - expected questions: `ContextHistory.expected_queries` (the rest of a burst in progress plus future
      bursts until the expected next change; `prior_change_gap` before two changes were seen);
    - match rate: the `MatchGuard`'s estimate (the last versions' measured matches);
    - value of a matched question: `match_value` sleep tokens. The default is the test-time output tokens
      a fresh version saved per question in evals/results/qwen15b-base at budget 0 (12.48 - 9.17 = 3.31),
      priced 10x, over the prior match rate 0.65: 3.31 x 10 / 0.65 = 51 (add what a right answer is worth
      to you);
    - cost: the last sleep's tokens on this context, else `tokens_per_sleep` (+ `tokens_per_size` x size).

    On a change it plans a run after `idle_after` seconds when the value is there already; otherwise each
    question re-evaluates (a question in a burst predicts the rest of the burst).
    """

    idle_after: float = 30.0
    match_value: float = 51.0
    tokens_per_sleep: float = 167.0
    tokens_per_size: float = 0.0
    prior_change_gap: float = 6 * 3600.0
    prior_window: float = 6 * 3600.0
    n_questions: int | None = None
    levels: tuple[PlanLevel, ...] = DEFAULT_LEVELS
    guard: MatchGuard | None = field(default_factory=MatchGuard)
    name: str = "value"

    def cost(self, history: ContextHistory) -> float:
        if history.last_sleep_tokens is not None:
            return float(history.last_sleep_tokens)
        return self.tokens_per_sleep + self.tokens_per_size * (history.size_tokens or 0)

    def match_rate(self, history: ContextHistory) -> float:
        return self.guard.rate(history) if self.guard is not None else 1.0

    def net_value(self, history: ContextHistory, now: float, level: PlanLevel | None = None) -> float:
        """Expected value minus cost of sleeping now at `level` (default: one sample, one round)."""
        level = level or self.levels[0]
        gain = history.expected_queries(now, self.prior_change_gap, self.prior_window) * self.match_rate(history)
        return gain * self.match_value * level.gain - self.cost(history) * level.cost

    def _plan(self, history: ContextHistory, now: float, delay: float, why: str) -> SleepPlan | None:
        if self.guard is not None and not self.guard.allows(history):
            return None
        best = max(self.levels, key=lambda lv: self.net_value(history, now, lv))
        value = self.net_value(history, now, best)
        if value <= 0:
            return None
        return SleepPlan(delay, samples=best.samples, max_rounds=best.max_rounds, n_questions=self.n_questions,
                         reason=f"{why}: net value {value:.0f} tokens")

    def on_change(self, history: ContextHistory, now: float) -> SleepPlan | None:
        return self._plan(history, now, self.idle_after, "changed")

    def on_query(self, history: ContextHistory, now: float) -> SleepPlan | None:
        return self._plan(history, now, 0.0, "asked")

    def on_match(self, history: ContextHistory, now: float, matched: bool) -> None:
        if self.guard is not None:
            self.guard.observe(matched, now)

    def priority(self, history: ContextHistory, now: float) -> float | None:
        if self.guard is not None and not self.guard.allows(history):
            return None
        return self.net_value(history, now)


POLICIES: dict[str, type[Debounce] | type[Value]] = {"debounce": Debounce, "eager": Eager, "lazy": Lazy,
                                                     "value": Value}


def policy_from_name(name: str, **options: Any) -> SleepPolicy:
    """A built-in policy by name (``debounce``, ``eager``, ``lazy``, ``value``), with its options."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise InvalidInputError(f"unknown sleep policy {name!r}; choose one of {', '.join(POLICIES)}") from None
    policy: SleepPolicy = cls(**options)
    return policy
