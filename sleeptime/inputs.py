"""Checks on a run's inputs, shared by the graphs' nodes, the facade and the CLI.

The graphs run them (so a LangGraph server run is checked like an in-process one); the facade
and CLI may call them first to fail before any graph starts. Each returns the checked value or
raises `InvalidInputError` naming the input and what it accepts.
"""

from __future__ import annotations

from typing import Literal, get_args

from sleeptime.config import BudgetLevel, check_budget
from sleeptime.errors import InvalidInputError
from sleeptime.ids import check_text, validate_id

Mode = Literal["learned", "test-time"]
"""``learned``: answer from the learned context; ``test-time``: the baseline, raw context only."""

#: Pre-release mode values and what replaced them (0.1.0 has no aliases: the error names the new value).
_RENAMED_MODES = {"sleep": "learned"}

__all__ = ["Mode", "check_budget", "check_context_id", "check_mode", "check_question", "wake_budget"]


def check_mode(value: object) -> Mode:
    if isinstance(value, str) and value in _RENAMED_MODES:
        raise InvalidInputError(
            f"mode {value!r} is now {_RENAMED_MODES[value]!r} (answer from the learned context); "
            f"use one of {', '.join(get_args(Mode))}"
        )
    if value not in get_args(Mode):
        raise InvalidInputError(f"mode must be one of {', '.join(get_args(Mode))}; got {value!r}")
    return value  # type: ignore[return-value]


def check_context_id(value: object, *, run: str = "this run") -> str:
    """A context id by the one id rule (`sleeptime.ids`); `run` names what needs it in the message."""
    if value is None:
        raise InvalidInputError(f"{run} needs a context_id (the id of the stored context), and none was given")
    return validate_id(value, "context_id")


def check_question(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"question must be a non-empty string, got {value!r}")
    return check_text(value, "question")


def wake_budget(override: object, configured: BudgetLevel) -> BudgetLevel:
    """A wake run's budget level: the per-call override when given, else the configured one (already checked)."""
    return configured if override is None else check_budget(override)
