"""Remote mode: the idle scheduler as background runs on a LangGraph server.

Each context gets its own thread on the server. A change creates a run of the sleep graph on that
thread, delayed by `idle_after` seconds (`after_seconds`), with a multitask strategy that drops the
run still pending there: ``rollback`` (the default; the stale run is deleted) or ``interrupt``
(it is kept, marked interrupted). So only the newest change of an idle context is slept on, and a
run that was already going when a change came is stopped; publishing is atomic on the server's
store either way. Both strategies are supported by the installed langgraph-api (0.16).

    >>> remote = RemoteScheduler("http://127.0.0.1:2024", idle_after=30)   # doctest: +SKIP
    >>> remote.notify_change("shop", text=price_list)                        # doctest: +SKIP
    >>> remote.published_version("shop")                                     # doctest: +SKIP

It consults the same `SleepPolicy` as `IdleScheduler` (default `Debounce(idle_after)`), from the history
this client has seen: a declined change creates no run (and cancels the context's pending one), a plan's
delay becomes `after_seconds` and its samples / rounds / predicted questions go into the run's context;
`record_query` lets a question schedule a run (`Lazy`, `Value`).

`RemoteScheduler` keeps the `sleeptime.scheduler.Scheduler` contract: every call has an async twin
(``a<name>``) over the SDK's async client, so an event loop never blocks on the server.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError
from langgraph_sdk.schema import Run

from sleeptime.errors import InvalidInputError
from sleeptime.scheduler.history import ContextHistory
from sleeptime.scheduler.policy import Debounce, SleepPlan, SleepPolicy
from sleeptime.scheduler.protocol import ScheduledSleep, SleepOutcome
from sleeptime.stores.layout import KeyLayout, validate_id

if TYPE_CHECKING:
    from sleeptime.scheduler.protocol import Scheduler

__all__ = ["RemoteScheduler", "context_thread_id"]

Strategy = Literal["rollback", "interrupt"]
_ENDED = {"error": "failed", "timeout": "failed", "interrupted": "cancelled"}  # run status -> outcome status


def context_thread_id(tenant: str, context_id: str) -> str:
    """The server thread of one context: stable, so every client finds the same one.

    The pair is JSON-encoded before hashing, so no (tenant, context) pair names another's thread
    (joining with ':' made tenant ``acme`` context ``b:c`` collide with tenant ``acme:b`` context ``c``).
    """
    pair = [validate_id(tenant, "tenant"), validate_id(context_id, "context_id")]
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sleeptime:" + json.dumps(pair)))


def _due_in(run: Run) -> float:
    """Seconds until a pending run may start: the server dates a delayed run at its start time
    (``created_at`` = creation + `after_seconds`, as langgraph-api 0.16 does)."""
    created = run["created_at"]
    at = created if isinstance(created, datetime) else datetime.fromisoformat(str(created))
    return max(0.0, (at - datetime.now(UTC)).total_seconds())


def _outcome(context_id: str, run: Run, out: Any) -> SleepOutcome:
    """A finished run's outcome from its status and output (the SleepOutput)."""
    values = dict(out) if isinstance(out, dict) else {}
    ended = _ENDED.get(str(run["status"])) or ("failed" if "__error__" in values else None)
    if ended is not None:
        detail = str(values.get("__error__") or run["status"])
        return SleepOutcome(context_id, ended, published=False, detail=detail, run_id=run["run_id"])
    usage = values.get("usage") or []
    return SleepOutcome(
        context_id, str(values.get("status", run["status"])), published=bool(values.get("published")),
        version=values.get("version"), tokens=sum(u["input_tokens"] + u["output_tokens"] for u in usage),
        run_id=run["run_id"],
    )


class RemoteScheduler:
    """Schedules sleep runs on a LangGraph server (`langgraph dev`, or a deployment).

    `context` is sent as the run's context (SleepTimeConfig fields as JSON, e.g. model specs);
    its ``tenant`` (default ``"default"``) also names the store namespace read by the status helpers.
    Text passed to an earlier change whose run is still pending is carried into the next change
    that gives none, so dropping the pending run never loses new text.
    """

    def __init__(
        self,
        url: str,
        assistant_id: str = "sleep",
        *,
        idle_after: float = 30.0,
        multitask_strategy: Strategy = "rollback",
        context: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        policy: SleepPolicy | None = None,
    ) -> None:
        if not idle_after >= 0:  # also refuses NaN
            raise InvalidInputError(f"idle_after must be >= 0 seconds, got {idle_after!r}")
        if multitask_strategy not in ("rollback", "interrupt"):
            raise InvalidInputError(f"multitask_strategy must be rollback or interrupt, got {multitask_strategy!r}")
        self.url = url
        self.assistant_id = assistant_id
        self.idle_after = idle_after
        self.multitask_strategy: Strategy = multitask_strategy
        self.context = dict(context or {})
        self.tenant = validate_id(str(self.context.get("tenant", "default")), "tenant")
        self._client_args: dict[str, Any] = {"url": url, "headers": headers, "timeout": timeout}
        self.client = get_sync_client(**self._client_args)
        self._aclient: LangGraphClient | None = None  # made on the first async call
        self._carry: dict[str, tuple[str, dict[str, Any]]] = {}  # context_id -> (run id, input)
        self.policy: SleepPolicy = policy if policy is not None else Debounce(idle_after)
        self.histories: dict[str, ContextHistory] = {}
        """What this client has seen of each context (the policy's input)."""

    @property
    def aclient(self) -> LangGraphClient:
        """The SDK's async client, for the async twins."""
        if self._aclient is None:
            self._aclient = get_client(**self._client_args)
        return self._aclient

    def thread_id(self, context_id: str) -> str:
        return context_thread_id(self.tenant, context_id)

    def _thread_args(self, context_id: str) -> dict[str, Any]:
        return {"thread_id": self.thread_id(context_id), "if_exists": "do_nothing",
                "metadata": {"sleeptime_context_id": context_id, "sleeptime_tenant": self.tenant}}

    @staticmethod
    def _input(context_id: str, text: str | None, files: Sequence[str | Path]) -> dict[str, Any]:
        data: dict[str, Any] = {"context_id": context_id}
        if text is not None:
            data["text"] = text
        if files:
            data["files"] = [str(f) for f in files]
        return data

    def _carried_run(self, context_id: str, text: str | None, files: Sequence[str | Path]) -> str | None:
        """The run whose input a change with no text or files should carry, if it may still be pending."""
        carried = self._carry.get(context_id)
        return carried[0] if carried is not None and text is None and not files else None

    def history(self, context_id: str) -> ContextHistory:
        return self.histories.setdefault(context_id, ContextHistory())

    def _decide(self, context_id: str) -> SleepPlan | None:
        history = self.history(context_id)
        history.on_change(time.monotonic())
        return self.policy.on_change(history, time.monotonic())

    def _run_args(self, context_id: str, data: dict[str, Any], plan: SleepPlan) -> dict[str, Any]:
        context = {**self.context, **plan.overrides()}
        return {"input": data, "context": context or None, "after_seconds": math.ceil(plan.delay),  # whole seconds
                "multitask_strategy": self.multitask_strategy, "metadata": {"sleeptime_context_id": context_id}}

    def _scheduled(self, context_id: str, run: Run, data: dict[str, Any], plan: SleepPlan) -> ScheduledSleep:
        self._carry[context_id] = (run["run_id"], data)
        self.history(context_id).on_sleep_started()
        return ScheduledSleep(context_id, due_in=float(math.ceil(plan.delay)), run_id=run["run_id"], reason=plan.reason)

    def _declined(self, context_id: str) -> ScheduledSleep:
        return ScheduledSleep(context_id, due_in=math.inf, reason=f"{self.policy.name} policy declined")

    def _asked(self, context_id: str, matched: bool | None) -> SleepPlan | None:
        history, now = self.history(context_id), time.monotonic()
        history.on_query(now)
        plan = self.policy.on_query(history, now)
        if matched is not None:
            history.on_match(matched)
            self.policy.on_match(history, now, matched)
        return None if plan is None or history.slept_current() else plan

    def record_query(self, context_id: str, *, matched: bool | None = None) -> ScheduledSleep | None:
        """A question arrived (`matched`: whether the published version predicted it): the policy may plan a
        run on the current revision (`Lazy`, `Value`); returns it, or None."""
        plan = self._asked(context_id, matched)
        if plan is None:
            return None
        args = self._thread_args(context_id)
        self.client.threads.create(**args)
        data = self._input(context_id, None, ())
        run = self.client.runs.create(args["thread_id"], self.assistant_id, **self._run_args(context_id, data, plan))
        return self._scheduled(context_id, run, data, plan)

    async def arecord_query(self, context_id: str, *, matched: bool | None = None) -> ScheduledSleep | None:
        """Async `record_query`."""
        plan = self._asked(context_id, matched)
        if plan is None:
            return None
        args = self._thread_args(context_id)
        await self.aclient.threads.create(**args)
        data = self._input(context_id, None, ())
        run = await self.aclient.runs.create(args["thread_id"], self.assistant_id,
                                             **self._run_args(context_id, data, plan))
        return self._scheduled(context_id, run, data, plan)

    def notify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> ScheduledSleep:
        """Schedule a sleep run `idle_after` seconds from now; a pending one on the context is dropped.

        `text`/`files` are the new context (files are paths on the server's machine).
        """
        args = self._thread_args(context_id)
        self.client.threads.create(**args)
        data = self._input(context_id, text, files)
        carried = self._carried_run(context_id, text, files)
        if carried is not None and self._is_pending(args["thread_id"], carried):
            data = self._carry[context_id][1]
        if (plan := self._decide(context_id)) is None:
            self.cancel(context_id)
            return self._declined(context_id)
        run = self.client.runs.create(args["thread_id"], self.assistant_id, **self._run_args(context_id, data, plan))
        return self._scheduled(context_id, run, data, plan)

    async def anotify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> ScheduledSleep:
        """Async `notify_change`."""
        args = self._thread_args(context_id)
        await self.aclient.threads.create(**args)
        data = self._input(context_id, text, files)
        carried = self._carried_run(context_id, text, files)
        if carried is not None and await self._ais_pending(args["thread_id"], carried):
            data = self._carry[context_id][1]
        if (plan := self._decide(context_id)) is None:
            await self.acancel(context_id)
            return self._declined(context_id)
        run = await self.aclient.runs.create(args["thread_id"], self.assistant_id,
                                             **self._run_args(context_id, data, plan))
        return self._scheduled(context_id, run, data, plan)

    def touch(self, context_id: str) -> ScheduledSleep | None:
        """Activity without a change: a pending sleep run is rescheduled `idle_after` from now."""
        carried = self._carry.get(context_id)
        if carried is None or not self._is_pending(self.thread_id(context_id), carried[0]):
            return None
        return self.notify_change(context_id)

    async def atouch(self, context_id: str) -> ScheduledSleep | None:
        """Async `touch`."""
        carried = self._carry.get(context_id)
        if carried is None or not await self._ais_pending(self.thread_id(context_id), carried[0]):
            return None
        return await self.anotify_change(context_id)

    def _is_pending(self, thread_id: str, run_id: str) -> bool:
        try:
            return self.client.runs.get(thread_id, run_id)["status"] == "pending"
        except NotFoundError:  # deleted (rolled back) or unknown
            return False

    async def _ais_pending(self, thread_id: str, run_id: str) -> bool:
        try:
            return (await self.aclient.runs.get(thread_id, run_id))["status"] == "pending"
        except NotFoundError:
            return False

    # status
    def runs(self, context_id: str, *, limit: int = 20) -> list[Run]:
        """The context's runs on the server, newest first (rolled-back ones are gone)."""
        try:
            return list(self.client.runs.list(self.thread_id(context_id), limit=limit))
        except NotFoundError:  # no change was ever sent for this context
            return []

    async def aruns(self, context_id: str, *, limit: int = 20) -> list[Run]:
        """Async `runs`."""
        try:
            return list(await self.aclient.runs.list(self.thread_id(context_id), limit=limit))
        except NotFoundError:
            return []

    def _pending_of(self, context_id: str, runs: list[Run]) -> ScheduledSleep | None:
        pending = [r for r in runs if r["status"] == "pending"]
        if not pending:
            return None
        return ScheduledSleep(context_id, due_in=_due_in(pending[0]), run_id=pending[0]["run_id"])

    def pending(self, context_id: str) -> ScheduledSleep | None:
        """The context's newest pending run, and when the server will start it."""
        return self._pending_of(context_id, self.runs(context_id))

    async def apending(self, context_id: str) -> ScheduledSleep | None:
        """Async `pending`."""
        return self._pending_of(context_id, await self.aruns(context_id))

    def in_flight(self, context_id: str) -> bool:
        return any(r["status"] == "running" for r in self.runs(context_id))

    async def ain_flight(self, context_id: str) -> bool:
        """Async `in_flight`."""
        return any(r["status"] == "running" for r in await self.aruns(context_id))

    def join(self, context_id: str, run_id: str | None = None) -> SleepOutcome | None:
        """Block until the run (default: the newest) ends, through its idle delay; None when none exists."""
        runs = self.runs(context_id, limit=1) if run_id is None else [{"run_id": run_id}]
        if not runs:
            return None
        thread_id, rid = self.thread_id(context_id), str(runs[0]["run_id"])
        out = self.client.runs.join(thread_id, rid)
        return _outcome(context_id, self.client.runs.get(thread_id, rid), out)

    async def ajoin(self, context_id: str, run_id: str | None = None) -> SleepOutcome | None:
        """Async `join`."""
        runs = await self.aruns(context_id, limit=1) if run_id is None else [{"run_id": run_id}]
        if not runs:
            return None
        thread_id, rid = self.thread_id(context_id), str(runs[0]["run_id"])
        out = await self.aclient.runs.join(thread_id, rid)
        return _outcome(context_id, await self.aclient.runs.get(thread_id, rid), out)

    def head(self, context_id: str) -> dict[str, Any] | None:
        """The published pointer of the context in the server's store ({"version": n, ...}), or None."""
        namespace, key = KeyLayout(self.tenant).head_key(context_id)
        try:
            item = self.client.store.get_item(list(namespace), key)
        except NotFoundError:
            return None
        return dict(item["value"]) if item else None

    async def ahead(self, context_id: str) -> dict[str, Any] | None:
        """Async `head`."""
        namespace, key = KeyLayout(self.tenant).head_key(context_id)
        try:
            item = await self.aclient.store.get_item(list(namespace), key)
        except NotFoundError:
            return None
        return dict(item["value"]) if item else None

    def published_version(self, context_id: str) -> int | None:
        head = self.head(context_id)
        return int(head["version"]) if head else None

    async def apublished_version(self, context_id: str) -> int | None:
        """Async `published_version`."""
        head = await self.ahead(context_id)
        return int(head["version"]) if head else None

    def cancel(self, context_id: str) -> int:
        """Cancel the context's pending and running sleep runs; returns how many."""
        active = [r for r in self.runs(context_id) if r["status"] in ("pending", "running")]
        for run in active:
            self.client.runs.cancel(self.thread_id(context_id), run["run_id"])
        self._carry.pop(context_id, None)
        return len(active)

    async def acancel(self, context_id: str) -> int:
        """Async `cancel`."""
        active = [r for r in await self.aruns(context_id) if r["status"] in ("pending", "running")]
        for run in active:
            await self.aclient.runs.cancel(self.thread_id(context_id), run["run_id"])
        self._carry.pop(context_id, None)
        return len(active)

    def close(self) -> None:
        self.client.http.client.close()

    async def aclose(self) -> None:
        """Close both clients (the sync one too)."""
        if self._aclient is not None:
            await self._aclient.http.client.aclose()
        self.close()

    def __enter__(self) -> RemoteScheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> RemoteScheduler:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


if TYPE_CHECKING:
    _implements: type[Scheduler] = RemoteScheduler  # mypy checks the class against the protocol
