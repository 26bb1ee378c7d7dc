"""Run configuration: one dataclass, passed to the graphs as LangGraph's `context_schema`.

Nodes read it from `Runtime[SleeptimeConfig]`. Nothing here is read from environment variables:
what the caller passes is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

BudgetLevel = Literal[0, 1, 2, 3, 4]
VerifyMode = Literal["off", "format", "model"]
PredictedCheck = Literal["rules", "model"]

DEFAULT_MODEL = "embedded:qwen2.5-coder-0.5b"


@dataclass(kw_only=True)
class SleeptimeConfig:
    """Everything a sleep or wake run can be told.

    Model fields take a spec string (``embedded:<name>``, ``openai:<model>``, ``scripted``) or a
    LangChain ``BaseChatModel`` instance. Sleep and wake may use different models.
    """

    tenant: str = "default"
    """Scopes every stored item; one tenant never sees another's data."""

    sleep_model: Any = DEFAULT_MODEL
    """Model used while idle (reflect, predict). Spec string or BaseChatModel."""

    wake_model: Any = DEFAULT_MODEL
    """Model used at test time (answer, verify). Spec string or BaseChatModel."""

    base_url: str | None = None
    """OpenAI-compatible server for ``openai:`` specs (vLLM, llama.cpp server, Ollama)."""

    reasoning_effort: str | None = None
    """Passed through to reasoning models (``low``/``medium``/``high``) at test time."""

    sleep_reasoning_effort: str | None = None
    """Reasoning effort for the sleep model, if it is a reasoning model."""

    chunk_size: int = 1200
    chunk_overlap: int = 100

    max_rounds: int = 3
    """Rethink rounds per sample; the model may finish earlier."""

    samples: int = 1
    """k independent learned contexts, concatenated at test time (the paper's scaling)."""

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

    max_tokens_sleep: int = 768
    max_tokens_wake: int = 384
    temperature: float = 0.0
    sample_temperature: float = 0.7
    """Temperature of samples 2..k, so they differ."""

    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form settings for custom nodes."""

    def __post_init__(self) -> None:
        from sleeptime.errors import InvalidInputError

        if not self.tenant or not isinstance(self.tenant, str):
            raise InvalidInputError("tenant must be a non-empty string")
        if self.budget not in (0, 1, 2, 3, 4):
            raise InvalidInputError(f"budget must be 0..4, got {self.budget!r}")
        if self.verify not in ("off", "format", "model"):
            raise InvalidInputError(f"verify must be off, format or model, got {self.verify!r}")
        if self.verify_predicted not in ("rules", "model"):
            raise InvalidInputError(f"verify_predicted must be rules or model, got {self.verify_predicted!r}")
        if not 0.0 < self.match_threshold <= 1.0:
            raise InvalidInputError(f"match_threshold must be in (0, 1], got {self.match_threshold!r}")
        for name in ("max_rounds", "samples", "chunk_size", "learned_max_chars"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("n_questions", "max_escalations", "json_retries", "chunk_overlap", "top_questions"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"{name} must be >= 0, got {getattr(self, name)!r}")
