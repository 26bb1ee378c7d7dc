"""Sleep-token quotas: how many sleep tokens one context, and all contexts in a rolling hour, may spend.

Called quotas (not budgets) because "budget" already names the test-time level of `ask`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from sleeptime.errors import InvalidInputError

__all__ = ["TokenQuota"]

HOUR = 3600.0


@dataclass
class TokenQuota:
    """Limits checked before a run starts, so one run may end above them; the next one is then skipped."""

    per_context: int | None = None
    per_hour: int | None = None
    _spent: dict[str, int] = field(default_factory=dict)
    _window: deque[tuple[float, int]] = field(default_factory=deque)  # (finished at, tokens) in the last hour

    def __post_init__(self) -> None:
        for name, value in (("token_quota_per_context", self.per_context), ("token_quota_per_hour", self.per_hour)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidInputError(f"{name} must be an int >= 0 or None, got {value!r}")

    def record(self, context_id: str, now: float, tokens: int) -> None:
        self._spent[context_id] = self._spent.get(context_id, 0) + tokens
        self._window.append((now, tokens))

    def spent(self, context_id: str) -> int:
        return self._spent.get(context_id, 0)

    def reset(self, context_id: str | None = None) -> None:
        if context_id is None:
            self._spent.clear()
        else:
            self._spent.pop(context_id, None)

    def context_exhausted(self, context_id: str) -> str | None:
        """Why the context may not sleep again (its own quota is spent), or None."""
        spent = self.spent(context_id)
        if self.per_context is not None and spent >= self.per_context:
            return f"context quota spent: {spent} of {self.per_context} sleep tokens"
        return None

    def hour_spent(self, now: float) -> int:
        while self._window and self._window[0][0] <= now - HOUR:
            self._window.popleft()
        return sum(t for _, t in self._window)

    def hour_exhausted(self, now: float) -> tuple[str, float] | None:
        """Why nothing may start now (the hourly quota is spent) and when to retry, or None."""
        if self.per_hour is None or (spent := self.hour_spent(now)) < self.per_hour:
            return None
        retry_at = self._window[0][0] + HOUR if self._window else now
        return f"hourly quota spent: {spent} of {self.per_hour} sleep tokens in the last hour", retry_at
