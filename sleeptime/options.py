"""Typed, validated keyword options of the facade: one check shared by every entry point.

`SleeptimeOptions` mirrors the fields of `SleeptimeConfig` so IDEs complete `SleepTime(...)`,
`ask(...)` and `sleep(...)` keywords and mypy rejects a typo; a test keeps the two in step.
`validate_options` turns a mapping (keyword arguments, a server's ``context`` dict, CLI flags)
into a config, raising `InvalidInputError` with the known keys for an unknown one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any, Literal, get_args

from typing_extensions import TypedDict

from sleeptime.config import BudgetLevel, PredictedCheck, SleeptimeConfig, VerifyMode
from sleeptime.errors import InvalidInputError

__all__ = ["MODES", "AskOptions", "Mode", "SleeptimeOptions", "known_options", "validate_budget", "validate_mode",
           "validate_options"]

Mode = Literal["sleep", "test-time"]
MODES: tuple[str, ...] = get_args(Mode)


class AskOptions(TypedDict, total=False):
    """The `SleeptimeConfig` fields an ask call takes as keywords: all but `budget`, its own argument."""

    tenant: str
    sleep_model: Any
    wake_model: Any
    base_url: str | None
    reasoning_effort: str | None
    sleep_reasoning_effort: str | None
    chunk_size: int
    chunk_overlap: int
    max_rounds: int
    samples: int
    learned_max_chars: int
    n_questions: int
    verify: VerifyMode
    max_escalations: int
    raw_context_at_wake: bool
    top_questions: int
    serve_predicted: bool
    match_threshold: float
    verify_predicted: PredictedCheck
    json_retries: int
    max_tokens_sleep: int
    max_tokens_wake: int
    temperature: float
    sample_temperature: float
    extra: dict[str, Any]


class SleeptimeOptions(AskOptions, total=False):
    """Every `SleeptimeConfig` field as an optional keyword (see that class for what each means)."""

    budget: BudgetLevel


def known_options() -> list[str]:
    return sorted(f.name for f in fields(SleeptimeConfig))


def validate_options(options: Mapping[str, Any], base: SleeptimeConfig | None = None) -> SleeptimeConfig:
    """`base` (default: the defaults) with `options` applied; unknown keys and bad values raise
    `InvalidInputError` naming them, before anything runs."""
    unknown = sorted(set(options) - set(known_options()))
    if unknown:
        raise InvalidInputError(f"unknown option(s) {unknown}; known options: {', '.join(known_options())}")
    return replace(base or SleeptimeConfig(), **options)


def validate_mode(mode: object) -> Mode:
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {list(MODES)}, got {mode!r}")
    return mode  # type: ignore[return-value]


def validate_budget(budget: object) -> int | None:
    """None (use the configured budget) or a level 0..4; bools are not levels."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or not 0 <= budget <= 4:
        raise InvalidInputError(f"budget must be an integer level 0..4, got {budget!r}")
    return budget
