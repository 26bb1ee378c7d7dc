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
  for the sleep, and sleeping now beats waiting for the next question: on a change it sleeps a context
  asked in enough sessions per revision, otherwise it waits for a question and decides again (a question
  in a burst predicts more).

Every built-in policy holds a `MatchGuard`: once the predicted questions stop matching the real ones
(the context's own record, shrunk towards the rate over all contexts), it stops paying for sleeps on
that context. Matches are reported by the app (`IdleScheduler.ask` does it from each answer's match
score) or by `record_query(..., matched=...)`; with no reports the guard never trips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sleeptime.errors import InvalidInputError
from sleeptime.scheduler.history import ContextHistory, Population

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
    """Sleep when a run pays for itself, and waiting for the next question would not pay more.

    All in sleep-token units:

    - expected questions before the next change: the rest of a burst in progress (bursts geometric: mean - 1
      more) plus the sessions expected before the next change (the context's session rate over its change
      rate, each the posterior of its own counts since it was first seen under a gamma prior fitted to every
      context seen, `Population` / `RatePrior`) x questions per session;
    - value of one fresh question v = match rate (the `MatchGuard`'s estimate) x `match_value`. The default
      `match_value` is the test-time output tokens a fresh version saved per question in
      evals/results/qwen15b-base at budget 0 (12.48 - 9.17 = 3.31), priced 10x, over the prior match rate
      0.65: 3.31 x 10 / 0.65 = 51 (add what a right answer is worth to you);
    - cost: the last sleep's tokens on this context, else `tokens_per_sleep` (+ `tokens_per_size` x size).

    It sleeps only when expected questions x v > cost (the net value), and then only when sleeping now beats
    waiting for the next question and deciding again (as `Lazy` does). A run started now is paid whether or
    not a question comes before the next change; waiting pays only if one comes, but answers that question
    from the older version, and the questions of its session asked while its run is going. With bursts of
    mean m questions and gaps of mean g seconds within a burst (the context's own, else the average
    context's), runs of D seconds (the context's last one, else `run_seconds`), S sessions expected before
    the next change and c = 1 - 1/m the chance that a burst in progress goes on:

        lost by waiting  = (c + (1 - c) x S / (S + 1) x (1 + (m - 1) x (1 - exp(-D / (g m))))) x v
        saved by waiting = (1 - c) / (S + 1) x cost

    (the session's questions within D of its first: a geometric burst with exponential gaps). On a change
    with no burst in progress this reads: sleep now when S x (questions lost per session) x v > cost. A
    context whose changes outpace its sessions is left for its first question; one asked in many sessions
    per revision is slept on the change.
    """

    idle_after: float = 30.0
    match_value: float = 51.0
    tokens_per_sleep: float = 167.0
    tokens_per_size: float = 0.0
    run_seconds: float = 49.0
    """A sleep run's seconds before the context's first one finished: the mean of the calibration's runs
    (the 1.5B sleeping on this project's 2-core machine, evals/results/arrivals/calibration.json)."""
    n_questions: int | None = None
    levels: tuple[PlanLevel, ...] = DEFAULT_LEVELS
    guard: MatchGuard | None = field(default_factory=MatchGuard)
    population: Population = field(default_factory=Population)
    """What the contexts this policy has seen get on average (the prior for a context with little history)."""
    name: str = "value"

    def cost(self, history: ContextHistory) -> float:
        if history.last_sleep_tokens is not None:
            return float(history.last_sleep_tokens)
        return self.tokens_per_sleep + self.tokens_per_size * (history.size_tokens or 0)

    def match_rate(self, history: ContextHistory) -> float:
        return self.guard.rate(history) if self.guard is not None else 1.0

    def burst(self, history: ContextHistory) -> tuple[float, float | None]:
        """(mean questions per burst, mean seconds between questions of a burst): the context's, else the
        average context's (gap None: no burst of two yet anywhere). Before the context's first burst has
        ended, the one going on counts as at least as long as it is so far."""
        mean = history.burst_len if history.burst_len is not None \
            else max(self.population.questions_per_session(), float(history.current_burst))
        gap = history.in_burst_gap if history.in_burst_gap is not None else self.population.in_burst_gap()
        return max(1.0, mean), gap

    def expected(self, history: ContextHistory, now: float) -> tuple[float, float]:
        """(questions, sessions) expected before the next change, from `now` on: sessions at the context's
        session rate over its change rate (memoryless), each rate its posterior under the `Population`'s
        priors; questions: the rest of a burst in progress plus the sessions x questions per session."""
        changes, _, sessions = history.window_counts(now)
        window = history.window(now)
        change_rate = self.population.changes.posterior(changes, window, now)
        session_rate = self.population.sessions.posterior(sessions, window, now)
        expected_sessions = session_rate / change_rate
        mean, _ = self.burst(history)
        return (mean - 1.0 if history.in_burst(now) else 0.0) + expected_sessions * mean, expected_sessions

    def net_value(self, history: ContextHistory, now: float, level: PlanLevel | None = None) -> float:
        """Expected value minus cost of sleeping now at `level` (default: one sample, one round)."""
        level = level or self.levels[0]
        questions, _ = self.expected(history, now)
        return questions * self.match_rate(history) * self.match_value * level.gain - self.cost(history) * level.cost

    def wait_advantage(self, history: ContextHistory, now: float, level: PlanLevel | None = None) -> float:
        """What sleeping now gains over waiting for the next question (see the class): lost - saved."""
        level = level or self.levels[0]
        _, sessions = self.expected(history, now)
        mean, gap = self.burst(history)
        goes_on = 1.0 - 1.0 / mean if history.in_burst(now) else 0.0
        seconds = history.last_sleep_seconds if history.last_sleep_seconds is not None else self.run_seconds
        during = (mean - 1.0) * (1.0 - math.exp(-seconds / (gap * mean))) if gap else 0.0
        lost = goes_on + (1.0 - goes_on) * sessions / (sessions + 1.0) * (1.0 + during)
        saved = (1.0 - goes_on) / (sessions + 1.0) * self.cost(history) * level.cost
        return lost * self.match_rate(history) * self.match_value * level.gain - saved

    def _plan(self, history: ContextHistory, now: float, delay: float, why: str) -> SleepPlan | None:
        if self.guard is not None and not self.guard.allows(history):
            return None
        best = max(self.levels, key=lambda lv: self.net_value(history, now, lv))
        value = self.net_value(history, now, best)
        if value <= 0 or self.wait_advantage(history, now, best) <= 0:
            return None
        return SleepPlan(delay, samples=best.samples, max_rounds=best.max_rounds, n_questions=self.n_questions,
                         reason=f"{why}: net value {value:.0f} tokens")

    def on_change(self, history: ContextHistory, now: float) -> SleepPlan | None:
        self.population.on_change(history)
        return self._plan(history, now, self.idle_after, "changed")

    def on_query(self, history: ContextHistory, now: float) -> SleepPlan | None:
        self.population.on_query(history)
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
