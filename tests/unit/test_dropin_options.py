"""One validation for every facade path, typed options, and the log lines the library emits."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any, get_type_hints

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError
from sleeptime.facade import SleepTime
from sleeptime.options import AskOptions, SleepTimeOptions, known_options, validate_options
from tests.scripts import staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."


def test_options_typed_dict_matches_the_config_dataclass() -> None:
    config = get_type_hints(SleepTimeConfig)
    options = get_type_hints(SleepTimeOptions)
    assert set(options) == {f.name for f in fields(SleepTimeConfig)} == set(known_options())
    for name, hint in options.items():
        assert hint == config[name], name
    assert set(get_type_hints(AskOptions)) == set(options) - {"budget"}  # ask's budget is its own argument
    assert SleepTimeOptions.__total__ is False


def test_unknown_option_lists_the_known_ones(app: SleepTime) -> None:
    with pytest.raises(InvalidInputError, match=r"unknown config key\(s\) \['budgett'\]; known keys: .*budget"):
        validate_options({"budgett": 2})
    calls: list[Any] = [
        lambda: app.ask("How much?", "shop", budgett=2),
        lambda: app.sleep("shop", CONTEXT, roundz=1),
        lambda: app.stream_answer("How much?", "shop", budgett=2).__next__(),
        lambda: SleepTime(store=InMemoryStore(), budgett=2),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match=r"budgett|roundz"):
            call()


async def test_unknown_option_async_paths(app: SleepTime) -> None:
    with pytest.raises(InvalidInputError, match="budgett"):
        await app.aask("How much?", "shop", budgett=2)  # type: ignore[call-arg]
    with pytest.raises(InvalidInputError, match="roundz"):
        await app.asleep("shop", CONTEXT, roundz=1)  # type: ignore[call-arg]
    with pytest.raises(InvalidInputError, match="budgett"):
        await app.astream_answer("How much?", "shop", budgett=2).__anext__()  # type: ignore[call-arg]


def test_mode_is_checked_before_anything_runs(memory_store: InMemoryStore) -> None:
    model = staged_model()
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model)
    app.sleep("shop", CONTEXT)
    calls_before = len(model.calls)
    for bad in ("testtime", "Learned", "", None):
        with pytest.raises(InvalidInputError, match="mode must be one of"):
            app.ask("How much?", "shop", mode=bad)  # type: ignore[arg-type]
    # The pre-release value names its replacement, for every entry point.
    with pytest.raises(InvalidInputError, match="mode 'sleep' is now 'learned'"):
        app.ask("How much?", "shop", mode="sleep")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="mode 'sleep' is now 'learned'"):
        app.wake_graph.invoke({"question": "How much?", "context_id": "shop", "mode": "sleep"}, context=app.config)
    assert len(model.calls) == calls_before  # nothing ran
    assert app.ask("How much?", "shop", mode="learned").route == "learned"


@pytest.mark.parametrize("budget", [-1, 5, 1.5, "2", True])
def test_bad_budget_is_rejected_on_every_ask_path(app: SleepTime, budget: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"budget must be an int 0\.\.4"):
        app.ask("How much?", "shop", budget=budget)
    with pytest.raises(InvalidInputError, match="budget"):
        list(app.stream_answer("How much?", "shop", budget=budget))


def test_missing_ids_are_invalid_input(app: SleepTime) -> None:
    with pytest.raises(InvalidInputError, match="needs a context_id"):
        app.ask("How much?")
    with pytest.raises(InvalidInputError, match="context_id '' must be non-empty"):
        app.ask("How much?", "")
    with pytest.raises(InvalidInputError, match="context_id '' must be non-empty"):
        app.sleep("", CONTEXT)
    with pytest.raises(InvalidInputError, match="question must be a non-empty string"):
        app.ask("  ", "shop")


def test_valid_options_reach_the_run(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT, max_rounds=1)
    answer = app.ask("How much?", "shop", budget=3, verify="off")
    assert answer.budget == 3 and answer.reason == "not verified"


def test_logs_sleep_publish_and_answer_without_adding_handlers(
    app: SleepTime, caplog: pytest.LogCaptureFixture
) -> None:
    assert logging.getLogger("sleeptime").handlers == []
    with caplog.at_level(logging.INFO, logger="sleeptime"):
        app.sleep("shop", CONTEXT)
        app.ask("How much does Alice pay?", "shop")
    messages = [(r.name, r.getMessage()) for r in caplog.records]
    assert ("sleeptime.facade", "sleep start 'shop' (tenant 'default', 2 round(s), k=1)") in messages
    assert ("sleeptime.nodes.sleep.publish", "published 'shop' version 1") in messages
    facade = [m for n, m in messages if n == "sleeptime.facade"]
    assert any(m.startswith("sleep end 'shop': published version 1") for m in facade)
    assert any(m.startswith("answered from learned (version 1): accept") for m in facade)


def test_logs_escalation_and_not_served(memory_store: InMemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    model = staged_model(answer=["I don't know.", "The answer is 6."])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, serve_predicted=True)
    app.sleep("shop", CONTEXT)
    with caplog.at_level(logging.INFO, logger="sleeptime"):
        app.ask("What colour is the notebook?", "shop")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "predicted answer not served:" in text
    assert "answer not accepted (no answer given); escalations used 0 of 1" in text


def test_logs_stale_skip(memory_store: InMemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    holder: dict[str, SleepTime] = {}

    def reflect_and_change_context(messages: list[Any]) -> str:
        holder["app"].ingest("shop", "A new price list: pens cost $3 each.")
        return "old notes\nSTATUS: DONE"

    model = staged_model(reflect=reflect_and_change_context)
    app = holder["app"] = SleepTime(store=memory_store, sleep_model=model, wake_model=model)
    app.ingest("shop", CONTEXT)
    with caplog.at_level(logging.INFO, logger="sleeptime"):
        app.sleep("shop")
    assert any(r.name == "sleeptime.nodes.sleep.publish" and r.getMessage().startswith("stale skip 'shop'")
               for r in caplog.records)
