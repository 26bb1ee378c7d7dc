"""What the facade returns: `Answer` (one question) and `SleepResult` (one sleep run), built from graph output.

The graph state names the route ``path``; `Answer.route` is the public name (`Answer.sources` are file paths).
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import AIMessageChunk
from pydantic import BaseModel

from sleeptime.state import AnswerPath, PredictedQuestion
from sleeptime.usage import Usage, UsageRecord, summarize_usage

logger = logging.getLogger("sleeptime.facade")  # the facade's log, as before the split

__all__ = ["Answer", "SleepResult", "answer_from", "answer_token", "sleep_result_from"]


class SleepResult(BaseModel):
    """What one sleep run produced."""

    context_id: str
    published: bool
    version: int | None
    status: str
    learned: list[str]
    questions: list[PredictedQuestion]
    usage: Usage
    """What building the version cost: the figure the version records, which `Answer.sleep_usage` and
    `sleeptime show` report for it too (one figure per sleep everywhere)."""
    samples: list[str] = []
    """Each reflect sample's checked notes before the merge, in sample order (k entries; empty for a sleep
    that ran no reflect samples, such as a large context's parts): what `learned` was merged from."""
    sample_usage: list[Usage] = []
    """What each reflect sample's calls cost, in sample order (part of `usage`; empty where `samples` is): lets a
    study of k read what the first j samples of a k-sample sleep cost."""
    warm_usage: Usage = Usage()
    """The wake-prefix warm-up after publish (one call reading the shared prompt prefix, no output
    tokens; ``warm_prefix``), kept apart: it runs after the version is recorded."""


class Answer(BaseModel):
    """An answer with the route that served it and per-phase token accounting."""

    question: str
    answer: str
    route: AnswerPath
    """What served it: ``learned`` notes, the ``test-time`` baseline, or a ``predicted`` question's answer."""
    version: int | None
    verdict: str
    reason: str
    escalations: int
    budget: int
    wake_usage: Usage
    sleep_usage: Usage
    """Tokens spent while idle to build the learned-context version used (shared by all its questions)."""
    matched_question: str | None = None
    """The predicted question whose stored answer was served (route ``predicted``), else None."""
    match_score: float | None = None
    """The similarity score of the nearest predicted question, when matching ran."""
    match_reason: str | None = None
    """Why the nearest predicted question was or was not served, with each check's result."""
    sources: list[str] = []
    """`path:start-end` of each retrieved piece the answer was given (contexts too large for one prompt)."""


def answer_token(chunk: object, meta: object) -> str:
    """The text of a streamed chunk when it comes from the answer node, else ''."""
    if isinstance(chunk, AIMessageChunk) and isinstance(meta, dict) and meta.get("langgraph_node") == "answer":
        return chunk.text
    return ""


def answer_from(out: dict[str, Any]) -> Answer:
    match = out.get("predicted_match") or {}
    logger.info("answered from %s (version %s): %s, %s", out["path"], out.get("version"), out["verdict"], out["reason"])
    return Answer(
        question=out["question"],
        answer=out["answer"],
        route=out["path"],  # the graph state keeps its `path` key
        version=out.get("version"),
        verdict=out["verdict"],
        reason=f"{out['note']}; {out['reason']}" if out.get("note") else out["reason"],
        escalations=out["escalations"],
        budget=out["current_budget"],
        wake_usage=summarize_usage(out.get("usage", []), "wake"),
        sleep_usage=summarize_usage(out.get("sleep_usage") or [], "sleep"),
        matched_question=match.get("question") if match.get("served") else None,
        match_score=match.get("score"),
        match_reason=match.get("reason"),
        sources=list(out.get("sources") or []),
    )


WARM_NODE = "warm_prefix"
"""The usage records' node name of the warm-up call (`sleeptime.warmup`)."""


def sleep_result_from(context_id: str, out: dict[str, Any]) -> SleepResult:
    records: list[UsageRecord] = out.get("usage", [])
    return SleepResult(
        context_id=context_id,
        published=bool(out.get("published")),
        version=out.get("version"),
        status=out.get("status", ""),
        learned=out.get("learned", []),
        questions=out.get("questions", []),
        samples=[str(s["notes"]) for s in sorted(out.get("samples") or [], key=lambda s: s["sample"])],
        usage=summarize_usage([r for r in records if r["node"] != WARM_NODE], "sleep"),
        sample_usage=[summarize_usage([r for r in records if r.get("sample") == i], "sleep")
                      for i in sorted({int(r["sample"]) for r in records if "sample" in r})],
        warm_usage=summarize_usage([r for r in records if r["node"] == WARM_NODE], "sleep"),
    )
