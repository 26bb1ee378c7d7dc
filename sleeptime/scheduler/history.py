"""What a scheduler has seen of one context, for its `SleepPolicy`: changes, questions, sleeps and matches.

Every estimate is O(1) to update and to read (running sums and exponentially weighted averages), so a
policy decides in microseconds however many contexts the scheduler holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["ContextHistory", "Population", "RatePrior"]

_ALPHA = 0.3
"""Weight of the newest gap in the running averages (about the last 5-6 gaps count)."""


def _ewma(old: float | None, new: float) -> float:
    return new if old is None else (1 - _ALPHA) * old + _ALPHA * new


@dataclass
class ContextHistory:
    """One context's history. Times are the scheduler clock's seconds."""

    burst_gap: float = 600.0
    """Questions closer than this belong to one burst (a session)."""
    # changes
    revision: int = 0
    """Changes seen so far (the revision questions should find a version of)."""
    last_change: float | None = None
    first_seen: float | None = None
    """When the scheduler first heard of the context (a change or a question)."""
    changes: int = 0
    change_gap: float | None = None
    """Running mean of the seconds between changes (None before the second change)."""
    # questions
    queries: int = 0
    last_query: float = float("-inf")
    query_gap: float | None = None
    query_gap_sq: float | None = None
    queries_this_revision: int = 0
    bursts: int = 0
    burst_len: float | None = None
    """Running mean of questions per burst (finished bursts)."""
    last_burst: int | None = None
    """Questions in the last finished burst."""
    current_burst: int = 0
    first_query: float | None = None
    last_gap: float | None = None
    """Seconds between the last two questions (None before the second)."""
    in_burst_gap: float | None = None
    """Running mean of the gaps between questions of one burst (None before two in one burst)."""
    # size
    size_tokens: int | None = None
    # sleeps
    slept_revision: int | None = None
    """The revision the last started sleep run read."""
    sleeps: int = 0
    last_sleep_tokens: int | None = None
    """Output tokens of the last finished sleep run (the tokens the cost tables count)."""
    sleep_started_at: float | None = None
    last_sleep_seconds: float | None = None
    """Seconds the last finished sleep run took (None when the scheduler does not see runs finish)."""
    published_revision: int | None = None
    # how well the published version's predicted questions match the real ones (recent reports weigh most)
    match_obs: int = 0
    match_recent: float | None = None

    # updates
    def on_change(self, now: float, size_tokens: int | None = None) -> None:
        if self.last_change is not None:
            self.change_gap = _ewma(self.change_gap, max(0.0, now - self.last_change))
        self.last_change = now
        self.first_seen = now if self.first_seen is None else self.first_seen
        self.changes += 1
        self.revision += 1
        self.queries_this_revision = 0
        if size_tokens is not None:
            self.size_tokens = size_tokens

    def on_query(self, now: float) -> None:
        if self.queries:
            gap = max(0.0, now - self.last_query)
            self.query_gap = _ewma(self.query_gap, gap)
            self.query_gap_sq = _ewma(self.query_gap_sq, gap * gap)
            self.last_gap = gap
            if gap <= self.burst_gap:
                self.in_burst_gap = _ewma(self.in_burst_gap, gap)
            else:
                self.burst_len = _ewma(self.burst_len, float(self.current_burst))
                self.last_burst = self.current_burst
                self.bursts += 1
                self.current_burst = 0
        else:
            self.first_query = now
            self.first_seen = now if self.first_seen is None else self.first_seen
        self.current_burst += 1
        self.queries += 1
        self.queries_this_revision += 1
        self.last_query = now

    def on_match(self, matched: bool) -> None:
        """Whether the published version's predicted questions matched a question asked of it."""
        self.match_obs += 1
        self.match_recent = _ewma(self.match_recent, float(matched))

    def on_sleep_started(self, now: float | None = None) -> None:
        self.slept_revision = self.revision
        self.sleeps += 1
        self.sleep_started_at = now

    def on_sleep_finished(self, tokens: int | None, published: bool, revision: int | None,
                          now: float | None = None) -> None:
        if tokens is not None:
            self.last_sleep_tokens = tokens
        if now is not None and self.sleep_started_at is not None:
            self.last_sleep_seconds = max(0.0, now - self.sleep_started_at)
        if published:
            self.published_revision = revision
            self.match_obs, self.match_recent = 0, None  # a new version: its predictions are judged afresh

    # estimates
    def fresh(self) -> bool:
        """Whether the published version was built on the current revision."""
        return self.published_revision is not None and self.published_revision == self.revision

    def slept_current(self) -> bool:
        """Whether a sleep run on the current revision has started (it may still be running)."""
        return self.slept_revision == self.revision

    def query_rate(self, now: float) -> float:
        """Questions per second over the context's life (0 before its first question)."""
        if self.first_query is None or self.queries < 2:
            return 0.0
        return self.queries / max(now - self.first_query, self.burst_gap)

    def burstiness(self) -> float:
        """Coefficient of variation of the gaps between questions (1 for Poisson, > 1 for bursts)."""
        if self.query_gap is None or self.query_gap_sq is None or self.query_gap <= 0:
            return 1.0
        var = max(0.0, self.query_gap_sq - self.query_gap**2)
        return math.sqrt(var) / self.query_gap

    def in_burst(self, now: float) -> bool:
        return now - self.last_query <= self.burst_gap

    def window_counts(self, now: float | None = None) -> tuple[int, int, int]:
        """(changes, questions, sessions) since the context was first seen, counting neither the event that
        opened that window nor one at `now` (the change or question being decided on; None: count it): each
        window then holds a Poisson count of its rate, where counting its two ends counted up to two events
        too many (a context judged at its second change, one day after its first, showed three changes a day
        for one)."""
        opened_by_question = self.first_query is not None and self.first_query == self.first_seen
        at_question = now is not None and self.queries > 0 and self.last_query == now
        changes = self.changes - (self.changes > 0 and not opened_by_question) \
            - (now is not None and self.last_change == now)
        questions = self.queries - opened_by_question - at_question
        sessions = (self.bursts + 1 if self.queries else 0) - opened_by_question \
            - (at_question and self.current_burst == 1)
        return max(0, changes), max(0, questions), max(0, sessions)

    def window(self, now: float) -> float:
        """Seconds since the context was first seen (the window of `window_counts`)."""
        return max(0.0, now - self.first_seen) if self.first_seen is not None else 0.0

    def match_rate(self, prior: float, weight: float) -> float:
        """Share of recent questions the published version's predictions matched, shrunk towards `prior`
        (`weight` pseudo-reports of it; the context's own reports count as at most 1 / 0.3 of them)."""
        if self.match_recent is None:
            return prior
        own = min(float(self.match_obs), 1 / _ALPHA)
        return (own * self.match_recent + weight * prior) / (own + weight)


@dataclass
class RatePrior:
    """A gamma prior for one kind of event's rate per context, fitted to every context seen (empirical Bayes,
    method of moments), and the posterior rate of one context from its own count.

    Each context i contributes its count k_i over its window t_i (seconds since first seen, opening event not
    counted). With rates gamma-distributed across contexts (mean r, variance v), k_i has mean r t_i and
    variance r t_i + v t_i^2, so the pooled rate r = sum k / sum t and
    v = (sum (k_i - r t_i)^2 - r sum t) / sum t^2 (at least 0). A context's posterior rate is
    (k + a) / (t + b) with b = r / v, a = r b: contexts alike (v ~ 0) share the pooled rate whatever their own
    few counts; contexts unlike (v large) follow their own. Every sum is kept as a running total (windows grow
    with `now`: sum t and sum t^2 are expanded in `now`), so updates and reads are O(1).
    """

    contexts: int = 0
    origin: float | None = None
    sum_f: float = 0.0
    """Sum of first-seen times (from `origin`)."""
    sum_f2: float = 0.0
    events: int = 0
    sum_k2: float = 0.0
    sum_kf: float = 0.0
    """Sum over events of their context's first-seen time (so sum k_i t_i = now x events - sum_kf)."""

    def add_context(self, first_seen: float) -> None:
        if self.origin is None:
            self.origin = first_seen
        f = first_seen - self.origin
        self.contexts += 1
        self.sum_f += f
        self.sum_f2 += f * f

    def add_event(self, count_before: int, first_seen: float) -> None:
        """An event of a context that had `count_before` of them (since it was first seen, opening one aside)."""
        self.events += 1
        self.sum_k2 += 2 * count_before + 1
        self.sum_kf += first_seen - (self.origin or 0.0)

    def fit(self, now: float) -> tuple[float, float]:
        """(pooled rate r, variance of the rates v) at `now`; r counts one event at least (before any)."""
        t = now - (self.origin or 0.0)
        sum_t = max(1.0, self.contexts * t - self.sum_f)
        rate = max(1, self.events) / sum_t
        if self.events < 2:
            return rate, 0.0
        sum_t2 = max(1.0, self.contexts * t * t - 2 * t * self.sum_f + self.sum_f2)
        sum_kt = t * self.events - self.sum_kf
        spread = self.sum_k2 - 2 * rate * sum_kt + rate * rate * sum_t2 - rate * sum_t
        return rate, max(0.0, spread / sum_t2)

    def posterior(self, count: int, window: float, now: float) -> float:
        """The rate of a context with `count` events in `window` seconds."""
        rate, var = self.fit(now)
        if var <= 0.0:
            return rate
        b = rate / var
        return (count + rate * b) / (window + b)


@dataclass
class Population:
    """What a policy has seen over every context: the priors for a context with little history of its own.
    O(1) to update and to read."""

    changes: RatePrior = field(default_factory=RatePrior)
    sessions: RatePrior = field(default_factory=RatePrior)
    bursts: int = 0
    burst_questions: int = 0
    """Finished bursts (sessions) and their questions: a long burst still going (a context asked without
    pause) does not count until it ends."""
    in_burst_gaps: int = 0
    in_burst_seconds: float = 0.0

    def _seen(self, history: ContextHistory) -> bool:
        """Whether `history`'s event just counted was its first (it opens the window: not counted)."""
        if history.changes + history.queries == 1 and history.first_seen is not None:
            self.changes.add_context(history.first_seen)
            self.sessions.add_context(history.first_seen)
            return True
        return False

    def on_change(self, history: ContextHistory) -> None:
        """A change `history` has just counted."""
        if not self._seen(history) and history.first_seen is not None:
            self.changes.add_event(history.window_counts()[0] - 1, history.first_seen)

    def on_query(self, history: ContextHistory) -> None:
        """A question `history` has just counted."""
        first = self._seen(history)
        if history.current_burst == 1:
            if history.last_burst is not None and history.queries > 1:
                self.bursts += 1
                self.burst_questions += history.last_burst
            if not first and history.first_seen is not None:
                self.sessions.add_event(history.window_counts()[2] - 1, history.first_seen)
        elif history.last_gap is not None:
            self.in_burst_gaps += 1
            self.in_burst_seconds += history.last_gap

    def questions_per_session(self) -> float:
        """Mean questions per finished burst (1 before any)."""
        return max(1.0, self.burst_questions / max(1, self.bursts))

    def in_burst_gap(self) -> float | None:
        return self.in_burst_seconds / self.in_burst_gaps if self.in_burst_gaps else None
