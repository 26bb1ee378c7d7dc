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

Every call has an async twin on the same object (``anotify_change``, ``atouch``, ``aruns``, ``apending``,
``ain_flight``, ``ajoin`` for `wait`, ``ahead``, ``apublished_version``, ``acancel``, ``aclose``), over
the SDK's async client, so an event loop never blocks on the server.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError
from langgraph_sdk.schema import Run

from sleeptime.stores.learned import ROOT, validate_id

__all__ = ["RemoteScheduler", "context_thread_id"]

Strategy = Literal["rollback", "interrupt"]


def context_thread_id(tenant: str, context_id: str) -> str:
    """The server thread of one context: stable, so every client finds the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sleeptime:{tenant}:{context_id}"))


class RemoteScheduler:
    """Schedules sleep runs on a LangGraph server (`langgraph dev`, or a deployment).

    `context` is sent as the run's context (SleeptimeConfig fields as JSON, e.g. model specs);
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
    ) -> None:
        if idle_after < 0:
            raise ValueError(f"idle_after must be >= 0, got {idle_after!r}")
        if multitask_strategy not in ("rollback", "interrupt"):
            raise ValueError(f"multitask_strategy must be rollback or interrupt, got {multitask_strategy!r}")
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

    @property
    def aclient(self) -> LangGraphClient:
        """The SDK's async client, for the async twins."""
        if self._aclient is None:
            self._aclient = get_client(**self._client_args)
        return self._aclient

    def thread_id(self, context_id: str) -> str:
        return context_thread_id(self.tenant, validate_id(context_id, "context_id"))

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

    def _run_args(self, context_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"input": data, "context": self.context or None, "after_seconds": math.ceil(self.idle_after),
                "multitask_strategy": self.multitask_strategy, "metadata": {"sleeptime_context_id": context_id}}

    def notify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> Run:
        """Schedule a sleep run `idle_after` seconds from now; a pending one on the context is dropped.

        `text`/`files` are the new context (files are paths on the server's machine).
        """
        args = self._thread_args(context_id)
        self.client.threads.create(**args)
        data = self._input(context_id, text, files)
        carried = self._carried_run(context_id, text, files)
        if carried is not None and self._is_pending(args["thread_id"], carried):
            data = self._carry[context_id][1]
        run = self.client.runs.create(args["thread_id"], self.assistant_id, **self._run_args(context_id, data))
        self._carry[context_id] = (run["run_id"], data)
        return run

    async def anotify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> Run:
        """Async `notify_change`."""
        args = self._thread_args(context_id)
        await self.aclient.threads.create(**args)
        data = self._input(context_id, text, files)
        carried = self._carried_run(context_id, text, files)
        if carried is not None and await self._ais_pending(args["thread_id"], carried):
            data = self._carry[context_id][1]
        run = await self.aclient.runs.create(args["thread_id"], self.assistant_id, **self._run_args(context_id, data))
        self._carry[context_id] = (run["run_id"], data)
        return run

    def touch(self, context_id: str) -> Run | None:
        """Activity without a change: a pending sleep run is rescheduled `idle_after` from now."""
        carried = self._carry.get(context_id)
        if carried is None or not self._is_pending(self.thread_id(context_id), carried[0]):
            return None
        return self.notify_change(context_id)

    async def atouch(self, context_id: str) -> Run | None:
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

    # status helpers
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

    def pending(self, context_id: str) -> list[Run]:
        return [r for r in self.runs(context_id) if r["status"] == "pending"]

    async def apending(self, context_id: str) -> list[Run]:
        return [r for r in await self.aruns(context_id) if r["status"] == "pending"]

    def in_flight(self, context_id: str) -> list[Run]:
        return [r for r in self.runs(context_id) if r["status"] == "running"]

    async def ain_flight(self, context_id: str) -> list[Run]:
        return [r for r in await self.aruns(context_id) if r["status"] == "running"]

    def _newest_run_id(self, context_id: str, runs: list[Run]) -> str:
        if not runs:
            raise LookupError(f"no sleep run for context {context_id!r} on {self.url}")
        return str(runs[0]["run_id"])

    @staticmethod
    def _output(out: Any) -> dict[str, Any]:
        return dict(out) if isinstance(out, dict) else {"output": out}

    def wait(self, context_id: str, run_id: str | None = None) -> dict[str, Any]:
        """Block until the run (default: the newest) ends; returns its output (the SleepOutput)."""
        run_id = run_id or self._newest_run_id(context_id, self.runs(context_id, limit=1))
        return self._output(self.client.runs.join(self.thread_id(context_id), run_id))

    async def ajoin(self, context_id: str, run_id: str | None = None) -> dict[str, Any]:
        """Async `wait`: until the run (default: the newest) ends; returns its output."""
        run_id = run_id or self._newest_run_id(context_id, await self.aruns(context_id, limit=1))
        return self._output(await self.aclient.runs.join(self.thread_id(context_id), run_id))

    def _head_key(self, context_id: str) -> tuple[list[str], str]:
        return [ROOT, self.tenant, "head"], validate_id(context_id, "context_id")

    def head(self, context_id: str) -> dict[str, Any] | None:
        """The published pointer of the context in the server's store ({"version": n, ...}), or None."""
        try:
            item = self.client.store.get_item(*self._head_key(context_id))
        except NotFoundError:
            return None
        return dict(item["value"]) if item else None

    async def ahead(self, context_id: str) -> dict[str, Any] | None:
        """Async `head`."""
        try:
            item = await self.aclient.store.get_item(*self._head_key(context_id))
        except NotFoundError:
            return None
        return dict(item["value"]) if item else None

    def published_version(self, context_id: str) -> int | None:
        head = self.head(context_id)
        return int(head["version"]) if head else None

    async def apublished_version(self, context_id: str) -> int | None:
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
