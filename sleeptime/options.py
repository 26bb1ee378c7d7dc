"""Typed, validated keyword options of the facade: one check shared by every entry point.

`SleepTimeOptions` mirrors the fields of `SleepTimeConfig` so IDEs complete `SleepTime(...)`,
`ask(...)` and `sleep(...)` keywords and mypy rejects a typo; a test keeps the two in step.
`validate_options`, `validate_budget` and `validate_mode` are the facade's names for the shared
checks (`SleepTimeConfig.from_mapping`, `check_budget`, `sleeptime.inputs.check_mode`), so the
facade, the CLI and the graphs (in process or on a server) reject the same input the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, get_args

from typing_extensions import TypedDict

from sleeptime.config import (
    BudgetLevel,
    ExperimentSpec,
    ModelSpec,
    PredictedCheck,
    SleepTimeConfig,
    VerifyMode,
    WarmPrefix,
    check_budget,
)
from sleeptime.inputs import Mode, check_mode

__all__ = ["MODES", "AskOptions", "Mode", "SleepTimeOptions", "known_options", "validate_budget", "validate_mode",
           "validate_options"]

MODES: tuple[str, ...] = get_args(Mode)


class AskOptions(TypedDict, total=False):
    """The `SleepTimeConfig` fields an ask call takes as keywords: all but `budget`, its own argument."""

    tenant: str
    sleep_model: ModelSpec
    wake_model: ModelSpec
    base_url: str | None
    reasoning_effort: str | None
    sleep_reasoning_effort: str | None
    sleep_instructions: str | None
    answer_instructions: str | None
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
    warm_prefix: WarmPrefix
    max_tokens_sleep: int
    max_tokens_wake: int
    temperature: float
    sample_temperature: float
    context_window: int | None
    unslept_fallback: bool
    server_timeout: float
    server_retries: int
    wake_context_tokens: int | None
    wake_chunks: int
    part_notes_chars: int
    part_concurrency: int
    experiment: ExperimentSpec


class SleepTimeOptions(AskOptions, total=False):
    """Every `SleepTimeConfig` field as an optional keyword (see that class for what each means)."""

    budget: BudgetLevel


def known_options() -> list[str]:
    return sorted(f.name for f in fields(SleepTimeConfig))


def validate_options(options: Mapping[str, Any], base: SleepTimeConfig | None = None) -> SleepTimeConfig:
    """`base` (default: the defaults) with `options` applied; unknown keys and bad values raise
    `InvalidInputError` naming them, before anything runs."""
    return SleepTimeConfig.from_mapping(base, **options)


def validate_mode(mode: object) -> Mode:
    return check_mode(mode)


def validate_budget(budget: object) -> int | None:
    """None (use the configured budget) or a level 0..4; bools and strings are not levels."""
    return None if budget is None else check_budget(budget)
