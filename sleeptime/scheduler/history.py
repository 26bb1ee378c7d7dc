"""What a scheduler has seen of one context, for its `SleepPolicy`: changes, questions, sleeps and matches.

Every estimate is O(1) to update and to read (running sums and exponentially weighted averages), so a
policy decides in microseconds however many contexts the scheduler holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ContextHistory"]

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
    current_burst: int = 0
    first_query: float | None = None
    # size
    size_tokens: int | None = None
    # sleeps
    slept_revision: int | None = None
    """The revision the last started sleep run read."""
    sleeps: int = 0
    last_sleep_tokens: int | None = None
    """Output tokens of the last finished sleep run (the tokens the cost tables count)."""
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
            if gap > self.burst_gap:
                self.burst_len = _ewma(self.burst_len, float(self.current_burst))
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

    def on_sleep_started(self) -> None:
        self.slept_revision = self.revision
        self.sleeps += 1

    def on_sleep_finished(self, tokens: int | None, published: bool, revision: int | None) -> None:
        if tokens is not None:
            self.last_sleep_tokens = tokens
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

    def burst_rate(self, now: float, prior_window: float) -> float:
        """Bursts (sessions) per second: bursts started over the context's life plus `prior_window` seconds."""
        if self.first_query is None:
            return 0.0
        return (self.bursts + 1) / (now - self.first_query + prior_window)

    def mean_burst(self) -> float:
        """Questions per burst: the running mean of ended bursts, else the burst in progress so far."""
        return self.burst_len if self.burst_len is not None else float(max(1, self.current_burst))

    def time_to_change(self, now: float, prior: float) -> float:
        """Expected seconds until the next change (memoryless): seconds observed plus one `prior` gap, over
        changes seen plus one. (A running mean of the gaps runs short: few, and cut by the window.)"""
        observed = now - self.first_seen if self.first_seen is not None else 0.0
        return (observed + prior) / (self.changes + 1)

    def expected_queries(self, now: float, prior_change_gap: float, prior_window: float) -> float:
        """Expected questions before the next change: the rest of a burst in progress, then future bursts.

        Bursts are taken as geometric (memoryless): a burst in progress has ``mean_burst - 1`` more to come.
        """
        horizon = self.time_to_change(now, prior_change_gap)
        mean = self.mean_burst()
        rest = mean - 1.0 if self.in_burst(now) else 0.0
        return rest + self.burst_rate(now, prior_window) * horizon * mean

    def match_rate(self, prior: float, weight: float) -> float:
        """Share of recent questions the published version's predictions matched, shrunk towards `prior`
        (`weight` pseudo-reports of it; the context's own reports count as at most 1 / 0.3 of them)."""
        if self.match_recent is None:
            return prior
        own = min(float(self.match_obs), 1 / _ALPHA)
        return (own * self.match_recent + weight * prior) / (own + weight)
