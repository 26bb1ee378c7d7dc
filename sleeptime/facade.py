"""`SleepTime`: the sleep and wake graphs behind ingest / sleep / ask, with async twins and a lifecycle."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from langchain_core.callbacks import Callbacks
from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore
from typing_extensions import Unpack

from sleeptime import isolation
from sleeptime.config import SleepTimeConfig
from sleeptime.contexts import ContextInfo, ContextSummary, describe, summarize
from sleeptime.errors import ClosedError, InvalidInputError
from sleeptime.graphs.sleep import build_sleep_graph
from sleeptime.graphs.wake import build_wake_graph
from sleeptime.ids import check_path, check_text
from sleeptime.inputs import check_context_id, check_question
from sleeptime.nodes.sleep.ingest import ingest_context
from sleeptime.options import AskOptions, SleepTimeOptions, validate_budget, validate_mode, validate_options
from sleeptime.options import Mode as Mode  # re-exported: callers import it from here
from sleeptime.progress import ProgressFn, SleepProgress
from sleeptime.results import Answer, SleepResult, answer_from, answer_token, sleep_result_from
from sleeptime.state import SleepInput, WakeInput
from sleeptime.stopping import stoppable
from sleeptime.stores.corpus import IngestResult
from sleeptime.stores.learned import LearnedContext, LearnedContextStore, validate_id
from sleeptime.twins import in_thread

logger = logging.getLogger(__name__)

TRACED_KEYS = ("callbacks", "tags", "metadata", "run_name")
"""What a caller's `RunnableConfig` passes to the app's graph runs: its tracing. Not its `configurable` (thread,
store, checkpointer: the runs keep the app's own) nor its limits."""

__all__ = ["Answer", "Mode", "SleepResult", "SleepTime"]


def _release_store(store: BaseStore) -> None:
    """Stop a store's background sweeper and close its client, where it has them (ChromaStore does)."""
    stop_sweeper = getattr(store, "stop_ttl_sweeper", None)
    if callable(stop_sweeper):
        stop_sweeper()
    close = getattr(store, "close", None)
    if callable(close):
        close()
        return
    # ChromaStore has no close() of its own: closing its client releases Chroma's shared system
    # (the SQLite files of an on-disk store) once no other client uses it.
    client = getattr(store, "_client", None)
    if client is not None and callable(getattr(client, "close", None)):
        client.close()


class SleepTime:
    """Sleep-time compute for an app in a few lines.

    >>> st = SleepTime(path=".sleeptime/store")                # doctest: +SKIP
    >>> st.ingest("shop", "A shop sells pens at $2 each. ...")  # doctest: +SKIP
    >>> st.sleep("shop")                                         # doctest: +SKIP
    >>> st.ask("How much do 3 pens cost?", "shop").answer        # doctest: +SKIP

    `store` may be any LangGraph BaseStore; by default an on-disk Chroma store at `path`
    (or a Chroma server at `url`) indexed with the embedded MiniLM embeddings.
    Keyword options are SleepTimeConfig fields (models, budget, samples, ...), typed by
    `SleepTimeOptions`; an unknown one raises InvalidInputError listing the known ones.

    Every call runs the app's graphs as their own top-level runs over this app's store, so it
    behaves the same from a script, a LangChain agent's tool or another LangGraph graph's node.

    `close()` (or ``with SleepTime(...) as st:`` / ``async with``) releases the store the app opened
    itself; a `store` passed in stays its owner's to close. Any call after close raises ClosedError.
    """

    def __init__(
        self,
        *,
        store: BaseStore | None = None,
        path: str | Path | None = ".sleeptime/store",
        url: str | None = None,
        embeddings: Any = None,
        config: SleepTimeConfig | None = None,
        **options: Unpack[SleepTimeOptions],
    ) -> None:
        self.config = validate_options(options, config)
        self._closed = False
        self._owns_store = store is None  # close() releases only what this app opened
        if store is None:
            from sleeptime.stores import open_store

            store = open_store(path=path, url=url, embeddings=embeddings)
        self.store = store
        self.sleep_graph = build_sleep_graph().compile(store=store, name="sleep")
        self.wake_graph = build_wake_graph().compile(store=store, name="wake")

    # lifecycle
    def close(self) -> None:
        """Release what this app opened: its Chroma client (and TTL sweeper). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._owns_store:
            _release_store(self.store)
            logger.info("closed the store this app opened")

    aclose = in_thread(close)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this SleepTime app is closed (close() or the end of its `with` block): make a new one")

    # helpers: every call goes through one of these first, so each checks the app is open
    def _cfg(self, options: SleepTimeOptions | AskOptions) -> SleepTimeConfig:
        self._check_open()
        return validate_options(options, self.config) if options else self.config

    def learned_store(self, tenant: str | None = None) -> LearnedContextStore:
        """The context store of `tenant` (None: the app's own); an empty or invalid tenant is an
        InvalidInputError, never the app's tenant."""
        self._check_open()
        return LearnedContextStore.shared(self.store, self.config.tenant if tenant is None
                                          else validate_id(tenant, "tenant"))

    @staticmethod
    def _run_config(cfg: SleepTimeConfig, caller: RunnableConfig | None = None,
                    callbacks: Callbacks = None) -> RunnableConfig:
        """The graph run's config: its recursion limit, and the caller's tracing (`TRACED_KEYS` of `caller`,
        then `callbacks`), so the run nests under the caller's; nothing else of the caller's reaches it."""
        # reflect loops at most max_rounds times; anything beyond means a bug, not more work.
        run: dict[str, Any] = {"recursion_limit": 2 * cfg.max_rounds + 2 * cfg.max_escalations + 10}
        for key in TRACED_KEYS:
            if caller is not None and caller.get(key) is not None:
                run[key] = caller[key]  # type: ignore[literal-required]
        if callbacks is not None:
            run["callbacks"] = callbacks
        return cast(RunnableConfig, run)

    def _wake_call(
        self, question: str, context_id: str | None, mode: Mode, budget: int | None, options: AskOptions,
        caller: RunnableConfig | None = None, callbacks: Callbacks = None,
    ) -> dict[str, Any]:
        """The keyword arguments of one wake-graph run, every argument checked before anything runs."""
        cfg = self._cfg(options)
        mode = validate_mode(mode)
        budget = validate_budget(budget)
        check_question(question)
        if context_id is not None or mode == "learned":
            validate_id(check_context_id(context_id, run="mode 'learned'"), "context_id")
        data = WakeInput(question=question, mode=mode)
        if context_id is not None:
            data["context_id"] = context_id
        if budget is not None:
            data["budget"] = budget
        return {"input": data, "config": self._run_config(cfg, caller, callbacks), "context": cfg}

    # ingest
    def ingest(
        self,
        context_id: str,
        text: str | None = None,
        *,
        files: Sequence[str | Path] = (),
        folder: str | Path | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        tenant: str | None = None,
    ) -> IngestResult:
        """Store the context (text, files and/or a folder) as a new revision. Nothing stored changes on
        error. A folder's binary, huge or unreadable files are skipped and listed in `.skipped`."""
        cfg = self.config
        record = ingest_context(
            self.learned_store(tenant), context_id, text=text, files=files, folder=folder,
            include=include, exclude=exclude, chunk_size=cfg.chunk_size, chunk_overlap=cfg.chunk_overlap,
        )
        logger.info("ingested context %r: revision %d, %d chunk(s)", context_id, record.revision, record.n_chunks)
        return record

    aingest = in_thread(ingest)

    # sleep
    def _sleep_input(self, context_id: str, text: str | None, files: Sequence[str | Path]) -> SleepInput:
        data = SleepInput(context_id=validate_id(context_id, "context_id"))
        if text is not None:
            data["text"] = check_text(text, "text")
        if isinstance(files, str | bytes):
            raise InvalidInputError("files must be a list of paths, got one string (use files=[...])")
        if files:
            data["files"] = [os.fspath(check_path(f, f"files[{i}]")) for i, f in enumerate(files)]
        return data

    def _sleep_call(
        self, context_id: str, text: str | None, files: Sequence[str | Path], options: SleepTimeOptions
    ) -> tuple[SleepInput, SleepTimeConfig, float]:
        """One sleep run's input, config and start time, every argument checked before anything runs."""
        cfg = self._cfg(options)
        inputs = self._sleep_input(context_id, text, files)
        logger.info("sleep start %r (tenant %r, %d round(s), k=%d)", context_id, cfg.tenant, cfg.max_rounds,
                    cfg.samples)
        return inputs, cfg, time.monotonic()

    @staticmethod
    def _slept(context_id: str, out: dict[str, Any], started: float) -> SleepResult:
        result = sleep_result_from(context_id, out)
        logger.info("sleep end %r: %s in %.1fs, %d sleep tokens out", context_id, result.status,
                    time.monotonic() - started, result.usage.output_tokens)
        return result

    def sleep(
        self,
        context_id: str,
        text: str | None = None,
        *,
        files: Sequence[str | Path] = (),
        progress: bool | ProgressFn = False,
        config: RunnableConfig | None = None,
        callbacks: Callbacks = None,
        **options: Unpack[SleepTimeOptions],
    ) -> SleepResult:
        """Reflect on the context (ingesting `text`/`files` first when given) and publish a new version.

        `progress=True` shows a bar on stderr whose total counts the parts or the reflect rounds that will
        run; a function instead receives each progress event (`sleeptime.progress`: plan, round, part, step).
        `config` (a caller's `RunnableConfig`: its callbacks, tags, metadata and run name) and `callbacks` trace
        the run under the caller's; the run keeps its own store and state either way.
        """
        inputs, cfg, started = self._sleep_call(context_id, text, files, options)
        run_config = self._run_config(cfg, config, callbacks)
        if not progress:
            with stoppable():  # Ctrl-C: parts not yet started make no model call (sleeptime.stopping)
                out = isolation.run(self.sleep_graph.invoke, inputs, run_config, context=cfg)
            return self._slept(context_id, cast(dict[str, Any], out), started)
        values: dict[str, Any] = {}
        shown = SleepProgress(f"sleep {context_id}", None if progress is True else progress)
        try:
            with stoppable():
                for mode, chunk in isolation.iterate(lambda: self.sleep_graph.stream(
                    inputs, run_config, context=cfg, stream_mode=["updates", "values", "custom"]
                )):
                    data = cast(dict[str, Any], chunk)
                    if mode == "values":
                        values = dict(data)
                    elif mode == "custom":
                        shown.event(data)
                    else:
                        shown.updates(data)
        finally:
            shown.close()
        return self._slept(context_id, values, started)

    async def asleep(
        self,
        context_id: str,
        text: str | None = None,
        *,
        files: Sequence[str | Path] = (),
        config: RunnableConfig | None = None,
        callbacks: Callbacks = None,
        **options: Unpack[SleepTimeOptions],
    ) -> SleepResult:
        """Async `sleep` (the graph runs on the caller's loop; no progress bar)."""
        inputs, cfg, started = self._sleep_call(context_id, text, files, options)
        with stoppable():  # cancelled: parts not yet started make no model call
            out = await isolation.arun(self.sleep_graph.ainvoke(inputs, self._run_config(cfg, config, callbacks),
                                                                context=cfg))
        return self._slept(context_id, cast(dict[str, Any], out), started)

    # ask
    def ask(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "learned",
        budget: int | None = None,
        config: RunnableConfig | None = None,
        callbacks: Callbacks = None,
        **options: Unpack[AskOptions],
    ) -> Answer:
        """Answer from the latest learned context (`mode='learned'`) or test-time only (the baseline).

        `config` (a caller's `RunnableConfig`: its callbacks, tags, metadata and run name) and `callbacks` trace
        the wake run under the caller's (a tool's run, in LangSmith or Studio); the run keeps its own store."""
        run = self._wake_call(question, context_id, mode, budget, options, config, callbacks)
        return answer_from(isolation.run(self.wake_graph.invoke, **run))

    async def aask(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "learned",
        budget: int | None = None,
        config: RunnableConfig | None = None,
        callbacks: Callbacks = None,
        **options: Unpack[AskOptions],
    ) -> Answer:
        """Async `ask` (the graph runs on the caller's loop)."""
        run = self._wake_call(question, context_id, mode, budget, options, config, callbacks)
        return answer_from(await isolation.arun(self.wake_graph.ainvoke(**run)))

    def stream_answer(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "learned",
        budget: int | None = None,
        config: RunnableConfig | None = None,
        callbacks: Callbacks = None,
        **options: Unpack[AskOptions],
    ) -> Iterator[str]:
        """The answer's tokens as the model writes them (an escalated retry streams after the first try)."""
        run = self._wake_call(question, context_id, mode, budget, options, config, callbacks)
        for chunk, meta in isolation.iterate(lambda: self.wake_graph.stream(**run, stream_mode="messages")):
            if token := answer_token(chunk, meta):
                yield token

    async def astream_answer(
        self,
        question: str,
        context_id: str | None = None,
        *,
        mode: Mode = "learned",
        budget: int | None = None,
        config: RunnableConfig | None = None,
        callbacks: Callbacks = None,
        **options: Unpack[AskOptions],
    ) -> AsyncIterator[str]:
        """Async `stream_answer`."""
        run = self._wake_call(question, context_id, mode, budget, options, config, callbacks)
        async for chunk, meta in isolation.aiterate(lambda: self.wake_graph.astream(**run, stream_mode="messages")):
            if token := answer_token(chunk, meta):
                yield token

    # reading and managing stored contexts
    def learned(self, context_id: str, *, tenant: str | None = None) -> LearnedContext | None:
        """The published learned context of `context_id`, or None before its first sleep."""
        return self.learned_store(tenant).latest(context_id)

    alearned = in_thread(learned)

    def contexts(self, *, tenant: str | None = None) -> list[ContextSummary]:
        """Every stored context of the tenant, by id: raw revision, size and published version."""
        store = self.learned_store(tenant)
        return [summarize(store, cid) for cid in store.list_contexts()]

    acontexts = in_thread(contexts)

    def show(self, context_id: str, *, tenant: str | None = None) -> ContextInfo:
        """One context: revision, sources, kept versions with their sleep usage and predicted questions."""
        return describe(self.learned_store(tenant), context_id)

    ashow = in_thread(show)

    def delete(self, context_id: str, *, version: int | None = None, tenant: str | None = None) -> None:
        """Delete a whole context (raw revisions, versions, questions, head), or only one `version`.

        Deleting the published version moves the head back to the newest kept one (or unpublishes).
        """
        store = self.learned_store(tenant)
        if version is None:
            store.delete_context(context_id)  # parts too
            logger.info("deleted context %r (tenant %r)", context_id, store.tenant)
            return
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInputError(f"version must be a positive integer, got {version!r}")
        store.context(context_id)  # UnknownContextError for an unknown id
        store.delete_version(context_id, version)
        logger.info("deleted version %d of context %r (tenant %r)", version, context_id, store.tenant)

    adelete = in_thread(delete)
