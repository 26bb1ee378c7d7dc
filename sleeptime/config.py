"""Run configuration: one dataclass, passed to the graphs as LangGraph's `context_schema`.

Nodes read it from `Runtime[SleepTimeConfig]`. Every path that builds one goes through the same
checks: field names (:func:`check_keys`, also run by the constructor, so LangGraph's own coercion
of a dict context and ``dataclasses.replace`` are covered) and values (``__post_init__``).
:meth:`SleepTimeConfig.from_mapping` is the entry point for untyped input (a server's JSON
context, CLI options, keyword overrides). Nothing here is read from environment variables: what
the caller passes is what runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, Literal, Self, get_args

from langchain_core.language_models import BaseChatModel
from pydantic import WithJsonSchema

from sleeptime.errors import InvalidInputError
from sleeptime.ids import validate_id
from sleeptime.notes.strategies import Experiment

BudgetLevel = Literal[0, 1, 2, 3, 4]
VerifyMode = Literal["off", "format", "model"]
PredictedCheck = Literal["rules", "model"]
WarmPrefix = Literal["auto", "on", "off"]
ModelSpec = Annotated[
    str | BaseChatModel,
    # A server's context is JSON: there it can only be a spec string (and Studio draws a text box).
    WithJsonSchema({"type": "string", "description": "embedded:<name>, gguf:<path>, <provider>:<model> or scripted"}),
]
"""A spec string (``embedded:<name>``, ``gguf:<path>``, ``<provider>:<model>``, ``scripted``) or a model."""

DEFAULT_MODEL = "embedded:qwen2.5-coder-0.5b"

ExperimentSpec = Annotated[
    Experiment | None,
    # Strategy objects hold prompts and functions: a server's JSON context can only leave them out.
    WithJsonSchema({"type": "null", "description": "experiment strategies (sleeptime.experimental); in process only"}),
]

__all__ = [
    "DEFAULT_MODEL",
    "BudgetLevel",
    "ExperimentSpec",
    "ModelSpec",
    "PredictedCheck",
    "SleepTimeConfig",
    "VerifyMode",
    "WarmPrefix",
    "check_budget",
    "check_keys",
]


def check_budget(value: object, what: str = "budget") -> BudgetLevel:
    """The test-time budget level, or InvalidInputError: an int 0..4 (not a bool, not a string)."""
    if isinstance(value, bool) or value not in get_args(BudgetLevel):
        raise InvalidInputError(f"{what} must be an int 0..4, got {value!r}")
    return value  # type: ignore[return-value]


def check_keys(keys: Iterable[object]) -> None:
    """InvalidInputError naming the unknown keys and listing the known ones, if any key is unknown."""
    known = _field_names()
    unknown = sorted(str(k) for k in keys if k not in known)
    if unknown:
        raise InvalidInputError(f"unknown config key(s) {unknown}; known keys: {', '.join(sorted(known))}")


def _field_names() -> frozenset[str]:
    return frozenset(f.name for f in fields(SleepTimeConfig))


@dataclass(kw_only=True)
class SleepTimeConfig:
    """Everything a sleep or wake run can be told.

    Model fields take a spec string (``embedded:<name>``, ``gguf:<path>``, ``openai:<model>`` or
    any ``<provider>:<model>`` LangChain's ``init_chat_model`` knows, ``scripted``) or a LangChain
    ``BaseChatModel`` instance. Sleep and wake may use different models. Build one from untyped
    input with :meth:`from_mapping`; bad names or values raise ``InvalidInputError``.
    """

    tenant: str = "default"
    """Scopes every stored item; one tenant never sees another's data."""

    sleep_model: ModelSpec = DEFAULT_MODEL
    """Model used while idle (reflect, predict)."""

    wake_model: ModelSpec = DEFAULT_MODEL
    """Model used at test time (answer, verify, match)."""

    base_url: str | None = None
    """OpenAI-compatible server for ``openai:`` specs (vLLM, llama.cpp server, Ollama)."""

    reasoning_effort: str | None = None
    """Passed through to reasoning models (``low``/``medium``/``high``) at test time."""

    sleep_reasoning_effort: str | None = None
    """Reasoning effort for the sleep model, if it is a reasoning model."""

    sleep_instructions: str | None = None
    """Task-specific instructions added to the reflect step's system prompt (Stateful AIME: the paper's
    "part of a problem" prompt, see ``evals.aime``); None: the general reflect prompt alone."""

    answer_instructions: str | None = None
    """Added after every answer's budget instruction (Stateful AIME: put the answer in ``\\boxed{}``)."""

    chunk_size: int = 1200
    chunk_overlap: int = 100

    max_rounds: int = 3
    """Rethink rounds per sample; the model may finish earlier."""

    samples: int = 1
    """k independent reflect samples (a Send fan-out), merged into one learned context (sleeptime.notes.hygiene)."""

    learned_max_chars: int = 5000
    """Limit of one learned-context block, as in the paper."""

    n_questions: int = 3
    """Predicted questions (each with a worked answer) per context."""

    budget: BudgetLevel = 1
    """Test-time verbosity level, 0 (one sentence) to 4 (step by step)."""

    verify: VerifyMode = "format"
    """``off``: accept; ``format``: require a final answer; ``model``: also ask the wake model to check it."""

    max_escalations: int = 1
    """How many times verify may send the question back with more budget and the raw context."""

    raw_context_at_wake: bool = True
    """Send the raw context beside the learned one at test time, as the paper's released code does."""

    top_questions: int = 3
    """Nearest predicted questions shown to the answer step."""

    serve_predicted: bool = False
    """Serve a predicted question's stored final answer, with no test-time generation, when the real
    question matches it verifiably (see ``sleeptime.matching``). Off by default: the match checks prove
    the question is the same, not that the sleep model's worked answer is right, and a served answer
    skips the answer and verify steps entirely."""

    match_threshold: float = 0.97
    """Least similarity score (the store's cosine score) for a predicted question to be served.
    0.97 was calibrated for the embedded MiniLM on the GSM-Symbolic P2 perturbation set: the lowest
    threshold serving no wrong answer (evals/results/verified). Recalibrate for other embeddings."""

    verify_predicted: PredictedCheck = "rules"
    """``rules``: facts and similarity only (zero wake tokens); ``model``: also a yes/no wake-model check."""

    json_retries: int = 2
    """Extra attempts when the model's structured reply is malformed."""

    warm_prefix: WarmPrefix = "auto"
    """Prepare the wake prompt's shared prefix at publish (``sleeptime.warmup``): ``auto`` for embedded
    models (a saved llama.cpp state), ``on`` also for servers (a one-token warm-up call), ``off``."""

    max_tokens_sleep: int = 768
    max_tokens_wake: int = 384
    temperature: float = 0.0
    sample_temperature: float = 0.7
    """Temperature of samples 2..k, so they differ."""

    context_window: int | None = None
    """Tokens a model's prompt and reply may hold together; None: the embedded model's n_ctx, else
    32768. A context that does not fit is slept on part by part and answered from retrieved pieces."""

    unslept_fallback: bool = True
    """An ``ask`` on a context with no published learned context (not slept yet, or its sleep failed) answers
    test-time (``Answer.route == 'test-time'``, the reason says why); False: raise ``NotSleptError``."""

    server_timeout: float = 300.0
    """Seconds one call to a model server (``openai:`` with ``base_url``) may take before it is retried."""

    server_retries: int = 2
    """Retries of a failed server call (exponential backoff, the openai client's) before a typed
    ``ServerUnavailableError`` or ``ServerTimeoutError`` naming the server."""

    wake_context_tokens: int | None = None
    """Tokens of context (notes, expected questions, retrieved pieces) one wake prompt may hold when
    the raw context does not fit; None: what the wake window leaves after the question and answer.
    Test-time runs get the same budget of retrieved raw chunks (plain RAG)."""

    wake_chunks: int = 12
    """Nearest raw chunks retrieved for a wake prompt on a large context (packed into the budget)."""

    part_notes_chars: int = 1200
    """Limit of one part's notes when a large context is slept on part by part."""

    part_concurrency: int = 2
    """Parts reflected at once (LangGraph `Send` fan-out) when a large context is slept on."""

    experiment: ExperimentSpec = None
    """Strategies for experiments (notes style, sample merge; ``sleeptime.experimental``), which may change
    between releases; None: the defaults. Applications leave it alone."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        # The generated __init__ would raise a bare TypeError for an unknown key; LangGraph builds the
        # context as `SleepTimeConfig(**dict)`, so the key check has to run before it.
        check_keys(kwargs)
        return super().__new__(cls)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | SleepTimeConfig | None = None, **overrides: Any) -> Self:
        """A validated config from untyped input: a mapping (a server's JSON context, CLI options) or a
        config, with `overrides` on top. Unknown keys and bad values raise ``InvalidInputError``."""
        if data is None:
            base: dict[str, Any] = {}
        elif isinstance(data, SleepTimeConfig):
            base = {f.name: getattr(data, f.name) for f in fields(data)}
        elif isinstance(data, Mapping):
            base = dict(data)
        else:
            raise InvalidInputError(f"a config must be a mapping or a SleepTimeConfig, got {type(data).__name__}")
        return cls(**{**base, **overrides})

    def __post_init__(self) -> None:
        validate_id(self.tenant, "tenant")
        for name in ("sleep_model", "wake_model"):
            value = getattr(self, name)
            if not isinstance(value, str | BaseChatModel) or (isinstance(value, str) and not value.strip()):
                raise InvalidInputError(f"{name} must be a model spec string or a BaseChatModel, got {value!r}")
        for name in ("base_url", "reasoning_effort", "sleep_reasoning_effort", "sleep_instructions",
                     "answer_instructions"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InvalidInputError(f"{name} must be a string or None, got {getattr(self, name)!r}")
        check_budget(self.budget)
        _check_choice("verify", self.verify, VerifyMode)
        _check_choice("verify_predicted", self.verify_predicted, PredictedCheck)
        _check_choice("warm_prefix", self.warm_prefix, WarmPrefix)
        if self.experiment is not None and not isinstance(self.experiment, Experiment):
            raise InvalidInputError(f"experiment must be a sleeptime.experimental.Experiment or None, "
                                    f"got {self.experiment!r}")
        for name in ("raw_context_at_wake", "serve_predicted", "unslept_fallback"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("max_rounds", "samples", "chunk_size", "learned_max_chars", "max_tokens_sleep", "max_tokens_wake"):
            _check_int(name, getattr(self, name), least=1)
        for name in ("n_questions", "max_escalations", "json_retries", "chunk_overlap", "top_questions"):
            _check_int(name, getattr(self, name), least=0)
        _check_int("server_retries", self.server_retries, least=0)
        for name in ("temperature", "sample_temperature", "match_threshold", "server_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidInputError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.server_timeout <= 0:
            raise InvalidInputError(f"server_timeout must be > 0 seconds, got {self.server_timeout!r}")
        if not 0.0 < self.match_threshold <= 1.0:
            raise InvalidInputError(f"match_threshold must be in (0, 1], got {self.match_threshold!r}")
        for name in ("wake_chunks", "part_notes_chars", "part_concurrency"):
            _check_int(name, getattr(self, name), least=1)
        for name in ("context_window", "wake_context_tokens"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), least=1)


def _check_int(name: str, value: object, *, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidInputError(f"{name} must be an int >= {least}, got {value!r}")


def _check_choice(name: str, value: object, choices: Any) -> None:
    allowed = get_args(choices)
    if value not in allowed:
        raise InvalidInputError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")

