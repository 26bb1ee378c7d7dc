"""Sleep progress from the API: events for a function, a bar whose total counts rounds and parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.facade import SleepTime
from tests.scripts import staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."


def test_events_name_the_plan_each_round_and_each_step(memory_store: InMemoryStore) -> None:
    app = SleepTime(store=memory_store, sleep_model=staged_model(), wake_model=staged_model(), max_rounds=3)
    events: list[dict[str, Any]] = []
    result = app.sleep("shop", CONTEXT, progress=events.append)
    assert result.published
    assert events[0] == {"event": "step", "node": "ingest", "output_tokens": 0}
    assert events[1] == {"event": "plan", "parts": 0, "reused": 0, "samples": 1, "max_rounds": 3}
    rounds = [e for e in events if e["event"] == "round"]
    assert [(e["round"], e["done"]) for e in rounds] == [(1, True)], "the model said DONE in round 1"
    assert rounds[0]["output_tokens"] > 0
    steps = [e["node"] for e in events if e["event"] == "step"]
    assert steps[-3:] == ["merge", "predict", "publish"]


def test_the_bar_total_counts_what_ran(memory_store: InMemoryStore, capsys: pytest.CaptureFixture[str]) -> None:
    app = SleepTime(store=memory_store, sleep_model=staged_model(), wake_model=staged_model(), max_rounds=3)
    app.sleep("shop", CONTEXT, progress=True)
    bar = capsys.readouterr().err.strip().splitlines()[-1].split("\r")[-1]
    assert "3/3" in bar, bar  # one round (two skipped: the model was done), predict, publish


def test_parts_are_counted(memory_store: InMemoryStore, tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma", "delta"):
        lines = [f"def {name}_{i}(v):\n    return v + {i}\n" for i in range(40)]
        (tmp_path / f"{name}.py").write_text("\n".join(lines))
    app = SleepTime(store=memory_store, sleep_model="scripted", wake_model="scripted", context_window=1500,
                    max_rounds=1, max_tokens_sleep=300)
    app.ingest("code", folder=tmp_path)
    events: list[dict[str, Any]] = []
    assert app.sleep("code", progress=events.append).published
    (plan,) = [e for e in events if e["event"] == "plan"]
    parts = [e for e in events if e["event"] == "part"]
    assert plan["parts"] > 1 and len(parts) == plan["parts"]
    assert all(".py:" in e["part"] for e in parts)
