"""`SleepTime`: the sleep and wake graphs behind ingest / sleep / ask, with async twins."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore
from pydantic import BaseModel
from tqdm import tqdm

from sleeptime.config import SleeptimeConfig
from sleeptime.graphs.sleep import build_sleep_graph
from sleeptime.graphs.wake import build_wake_graph
from sleeptime.nodes.ingest import ingest_context
from sleeptime.state import AnswerPath, PredictedQuestion, SleepInput, WakeInput
from sleeptime.stores.learned import ContextRecord, LearnedContext, LearnedContextStore
from sleeptime.usage import Usage, UsageRecord, summarize_usage

Mode = Literal["sleep", "test-time"]


class SleepResult(BaseModel):
    """What one sleep run produced."""

    context_id: str
    published: bool
    version: int | None
    status: str
    learned: list[str]
    questions: list[PredictedQuestion]
    usage: Usage


class Answer(BaseModel):
    """An answer with the path that served it and per-phase token accounting."""

    question: str
    answer: str
    path: AnswerPath
    version: int | None
    verdict: str
    reason: str
    escalations: int
    budget: int
    wake_usage: Usage
    sleep_usage: Usage
    """Tokens spent while idle to build the learned-context version used (shared by all its questions)."""
    matched_question: str | None = None
    """The predicted question whose stored answer was served (path ``predicted``), else None."""
    match_score: float | None = None
    """The similarity score of the nearest predicted question, when matching ran."""
    match_reason: str | None = None
    """Why the nearest predicted question was or was not served, with each check's result."""


def _answer_token(chunk: object, meta: object) -> str:
    """The text of a streamed chunk when it comes from the answer node, else ''."""
    if isinstance(chunk, AIMessageChunk) and isinstance(meta, dict) and meta.get("langgraph_node") == "answer":
        return chunk.text
    return ""


def _answer_from(out: dict[str, Any]) -> Answer:
    match = out.get("predicted_match") or {}
    return Answer(
        question=out["question"],
        answer=out["answer"],
        path=out["path"],
        version=out.get("version"),
        verdict=out["verdict"],
        reason=out["reason"],
        escalations=out["escalations"],
        budget=out["current_budget"],
        wake_usage=summarize_usage(out.get("usage", []), "wake"),
        sleep_usage=summarize_usage(out.get("sleep_usage") or [], "sleep"),
        matched_question=match.get("question") if match.get("served") else None,
        match_score=match.get("score"),
        match_reason=match.get("reason"),
    )


def _sleep_result(context_id: str, out: dict[str, Any]) -> SleepResult:
    records: list[UsageRecord] = out.get("usage", [])
    return SleepResult(
        context_id=context_id,
        published=bool(out.get("published")),
        version=out.get("version"),
        status=out.get("status", ""),
        learned=out.get("learned", []),
        questions=out.get("questions", []),
        usage=summarize_usage(records, "sleep"),
    )


class SleepTime:
    """Sleep-time compute for an app in a few lines.

    >>> st = SleepTime(path=".sleeptime/store")                # doctest: +SKIP
    >>> st.ingest("shop", "A shop sells pens at $2 each. ...")  # doctest: +SKIP
    >>> st.sleep("shop")                                         # doctest: +SKIP
    >>> st.ask("How much do 3 pens cost?", "shop").answer        # doctest: +SKIP

    `store` may be any LangGraph BaseStore; by default an on-disk Chroma store at `path`
    (or a Chroma server at `url`) indexed with the embedded MiniLM embeddings.
    Keyword overrides are SleeptimeConfig fields (models, budget, samples, ...).
    """

    def __init__(
        self,
        *,
        store: BaseStore | None = None,
        path: str | Path | None = ".sleeptime/store",
        url: str | None = None,
        embeddings: Any = None,
        config: SleeptimeConfig | None = None,
        **overrides: Any,
    ) -> None:
        self.config = replace(config or SleeptimeConfig(), **overrides)
        if store is None:
            from sleeptime.stores import open_store

            store = open_store(path=path, url=url, embeddings=embeddings)
        self.store = store
        self.sleep_graph = build_sleep_graph().compile(store=store, name="sleep")
        self.wake_graph = build_wake_graph().compile(store=store, name="wake")

    # helpers
    def _cfg(self, overrides: dict[str, Any]) -> SleeptimeConfig:
        return replace(self.config, **overrides) if overrides else self.config

    def learned_store(self, tenant: str | None = None) -> LearnedContextStore:
        return LearnedContextStore(self.store, tenant or self.config.tenant)

    @staticmethod
    def _run_config(cfg: SleeptimeConfig) -> RunnableConfig:
        # reflect loops at most max_rounds times; anything beyond means a bug, not more work.
        return {"recursion_limit": 2 * cfg.max_rounds + 2 * cfg.max_escalations + 10}

    def _wake_call(
        self, question: str, context_id: str | None, mode: Mode, budget: int | None, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """The keyword arguments of one wake-graph run: input, run config and SleeptimeConfig context."""
        cfg = self._cfg(overrides)
        return {
            "input": self._wake_input(question, context_id, mode, budget),
            "config": self._run_config(cfg),
            "context": cfg,
        }

    @staticmethod
    def _wake_input(question: str, context_id: str | None, mode: Mode, budget: int | None) -> WakeInput:
        data = WakeInput(question=question, mode=mode)
        if context_id is not None:
            data["context_id"] = context_id
        if budget is not None:
            data["budget"] = budget
        return data

    # ingest
    def ingest(
        self, context_id: str, text: str | None = None, *, files: Sequence[str | Path] = ()
    ) -> ContextRecord:
        """Store the context (text and/or files) as a new revision. Nothing stored changes on error."""
        cfg = self.config
        return ingest_context(
            self.learned_store(), context_id, text=text, files=files,
            chunk_size=cfg.chunk_size, chunk_overlap=cfg.chunk_overlap,
        )

    async def aingest(
        self, context_id: str, text: str | None = None, *, files: Sequence[str | Path] = ()
    ) -> ContextRecord:
        return await asyncio.to_thread(self.ingest, context_id, text, files=files)

    # sleep
    def _sleep_input(self, context_id: str, text: str | None, files: Sequence[str | Path]) -> SleepInput:
        data = SleepInput(context_id=context_id)
        if text is not None:
            data["text"] = text
        if files:
            data["files"] = [str(f) for f in files]
        return data

    def sleep(
        self,
        context_id: str,
        text: str | None = None,
        *,
        files: Sequence[str | Path] = (),
        progress: bool = False,
        **overrides: Any,
    ) -> SleepResult:
        """Reflect on the context (ingesting `text`/`files` first when given) and publish a new version.

        `progress=True` prints each finished step (reflect rounds, predict, publish) as it happens.
        """
        cfg = self._cfg(overrides)
        inputs = self._sleep_input(context_id, text, files)
        if not progress:
            return _sleep_result(context_id, self.sleep_graph.invoke(inputs, self._run_config(cfg), context=cfg))
        out: dict[str, Any] = {}
        with tqdm(total=cfg.max_rounds + 3, desc=f"sleep {context_id}", unit="step", file=sys.stderr) as bar:
            for mode, chunk in self.sleep_graph.stream(
                inputs, self._run_config(cfg), context=cfg, stream_mode=["updates", "values"]
            ):
                data = cast(dict[str, Any], chunk)
                if mode == "values":
                    out = dict(data)
                    continue
                for node, update in data.items():
                    tokens = sum(r["output_tokens"] for r in (update or {}).get("usage", []))
                    bar.set_postfix_str(f"{node} done, {tokens} tokens out")
                    bar.update(1)
            bar.total = bar.n
        return _sleep_result(context_id, out)

    async def asleep(
        self, context_id: str, text: str | None = None, *, files: Sequence[str | Path] = (), **overrides: Any
    ) -> SleepResult:
        cfg = self._cfg(overrides)
        out = await self.sleep_graph.ainvoke(
            self._sleep_input(context_id, text, files), self._run_config(cfg), context=cfg
        )
        return _sleep_result(context_id, out)

    # ask
    def ask(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "sleep",
        budget: int | None = None,
        **overrides: Any,
    ) -> Answer:
        """Answer from the latest learned context (`mode='sleep'`) or test-time only (the baseline)."""
        return _answer_from(self.wake_graph.invoke(**self._wake_call(question, context_id, mode, budget, overrides)))

    async def aask(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "sleep",
        budget: int | None = None,
        **overrides: Any,
    ) -> Answer:
        run = self._wake_call(question, context_id, mode, budget, overrides)
        return _answer_from(await self.wake_graph.ainvoke(**run))

    def stream_answer(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "sleep",
        budget: int | None = None,
        **overrides: Any,
    ) -> Iterator[str]:
        """The answer's tokens as the model writes them (an escalated retry streams after the first try)."""
        run = self._wake_call(question, context_id, mode, budget, overrides)
        for chunk, meta in self.wake_graph.stream(**run, stream_mode="messages"):
            if token := _answer_token(chunk, meta):
                yield token

    async def astream_answer(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "sleep",
        budget: int | None = None,
        **overrides: Any,
    ) -> AsyncIterator[str]:
        run = self._wake_call(question, context_id, mode, budget, overrides)
        async for chunk, meta in self.wake_graph.astream(**run, stream_mode="messages"):
            if token := _answer_token(chunk, meta):
                yield token

    # reading
    def learned(self, context_id: str) -> LearnedContext | None:
        """The published learned context of `context_id`, or None before its first sleep."""
        return self.learned_store().latest(context_id)
