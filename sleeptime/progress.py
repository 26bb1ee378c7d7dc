"""Sleep progress: events the sleep graph's nodes write (LangGraph ``custom`` stream), shown as a bar or
handed to the caller's function (``SleepTime.sleep(progress=...)``).

Events (plain dicts, ``event`` names the kind):

* ``{"event": "plan", "parts": n, "reused": m, "samples": k, "max_rounds": r}``: what the sleep will do;
  ``parts`` is 0 when the context fits one prompt (then ``k`` samples of up to ``r`` reflect rounds each);
* ``{"event": "round", "sample": i, "round": j, "max_rounds": r, "done": bool, "output_tokens": t}``: a
  reflect round finished; ``done``: the model said it was done, so the sample's later rounds are skipped;
* ``{"event": "part", "part": "file:1-80", "output_tokens": t}``: a part's notes were written;
* ``{"event": "step", "node": "predict" | "reduce" | "publish" | ..., "output_tokens": t}``: a graph step ended.

The bar's total counts what will run: every part to write (plus reduce and publish), or every sample's
rounds (less the rounds a finished sample skips) plus predict and publish.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["ProgressFn", "SleepProgress", "emit"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]

_COUNTED_STEPS = ("predict", "reduce", "publish")
"""Graph steps that count on the bar (rounds and parts are counted by their own events)."""


def emit(event: dict[str, Any]) -> None:
    """Write a progress event to the run's custom stream (nothing when the run is not streamed)."""
    try:
        from langgraph.config import get_stream_writer

        get_stream_writer()(event)
    except RuntimeError:  # called outside a graph run (a node function used directly)
        pass


class SleepProgress:
    """Turns a sleep run's stream into events for `fn`, or a progress bar on stderr when `fn` is None."""

    def __init__(self, label: str, fn: ProgressFn | None) -> None:
        self.fn = fn
        self.bar: Any = None
        if fn is None:
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=label, unit="step", file=sys.stderr)

    def event(self, event: dict[str, Any]) -> None:
        if self.fn is not None:
            self.fn(event)
            return
        kind, bar = event.get("event"), self.bar
        if kind == "plan":
            parts = int(event.get("parts") or 0)
            bar.total = parts + 2 if parts else int(event["samples"]) * int(event["max_rounds"]) + 2
            bar.refresh()
        elif kind == "round":
            if event.get("done"):
                bar.total = (bar.total or 0) - (int(event["max_rounds"]) - int(event["round"]))
            bar.set_postfix_str(f"reflect sample {event['sample']} round {event['round']}/{event['max_rounds']}, "
                                f"{event.get('output_tokens', 0)} tokens out")
            bar.update(1)
        elif kind == "part":
            bar.set_postfix_str(f"part {event['part']}, {event.get('output_tokens', 0)} tokens out")
            bar.update(1)
        elif kind == "step" and event.get("node") in _COUNTED_STEPS:
            bar.set_postfix_str(f"{event['node']} done, {event.get('output_tokens', 0)} tokens out")
            bar.update(1)

    def updates(self, data: dict[str, Any]) -> None:
        """A LangGraph ``updates`` chunk: one ``step`` event per node that ended."""
        for node, update in data.items():
            records = update.get("usage") if isinstance(update, dict) else None
            tokens = sum(r["output_tokens"] for r in records or [])
            self.event({"event": "step", "node": node, "output_tokens": tokens})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.total = self.bar.n
            self.bar.close()
