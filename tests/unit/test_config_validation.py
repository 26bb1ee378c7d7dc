"""One validation for every path: SleepTimeConfig itself, LangGraph's coercion of a dict context,
the server's graph factories, the facade's overrides, and the run inputs (mode, budget, ids)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore
from langgraph_sdk.runtime import _ExecutionRuntime, _ReadRuntime

import sleeptime
from sleeptime.config import SleepTimeConfig, check_keys
from sleeptime.errors import InvalidInputError
from sleeptime.facade import SleepTime
from sleeptime.graphs import server
from sleeptime.graphs.sleep import build_sleep_graph
from sleeptime.graphs.wake import build_wake_graph
from sleeptime.inputs import check_context_id, check_mode, wake_budget
from sleeptime.testing import ScriptedChatModel
from tests.scripts import staged_model

CONTEXT = "Pens cost $2 each. Alice buys 3 pens."


def test_config_is_exported_at_the_top_and_old_names_are_gone() -> None:
    assert sleeptime.SleepTimeConfig is SleepTimeConfig
    for old in ("SleeptimeConfig", "SleeptimeError", "SleeptimeOptions"):
        assert not hasattr(sleeptime, old)


def test_unknown_key_lists_the_known_ones() -> None:
    known = r"unknown config key\(s\) \['budgett'\]; known keys: .*budget.*wake_model"
    with pytest.raises(InvalidInputError, match=known):
        SleepTimeConfig.from_mapping({"budgett": 2})


def test_the_constructor_and_replace_run_the_same_key_check() -> None:
    # LangGraph coerces a dict context with SleepTimeConfig(**ctx); the facade uses dataclasses.replace.
    with pytest.raises(InvalidInputError, match="budgett"):
        SleepTimeConfig(**{"budgett": 2})
    with pytest.raises(InvalidInputError, match="samplez"):
        replace(SleepTimeConfig(), samplez=2)  # type: ignore[call-arg]
    with pytest.raises(InvalidInputError, match="unknown config key"):
        check_keys(["tenant", "nope"])
    check_keys(["tenant", "budget"])


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"budget": 7}, "budget"),
        ({"budget": "2"}, "budget"),
        ({"budget": True}, "budget"),
        ({"verify": "strict"}, "verify"),
        ({"verify_predicted": "maybe"}, "verify_predicted"),
        ({"experiment": "worked"}, "experiment"),  # a strategy object, not a name
        ({"notes_style": "worked"}, "notes_style"),  # an experiment's switch, no longer a config key
        ({"max_rounds": "3"}, "max_rounds"),
        ({"max_rounds": 0}, "max_rounds"),
        ({"n_questions": -1}, "n_questions"),
        ({"temperature": "hot"}, "temperature"),
        ({"serve_predicted": "yes"}, "serve_predicted"),
        ({"sleep_model": 3}, "sleep_model"),
        ({"wake_model": " "}, "wake_model"),
        ({"tenant": ""}, "tenant"),
        ({"base_url": 8080}, "base_url"),
    ],
)
def test_bad_values_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        SleepTimeConfig.from_mapping(data)


def test_from_mapping_accepts_json_values_configs_and_overrides() -> None:
    cfg = SleepTimeConfig.from_mapping({"budget": 2, "sleep_model": "scripted", "temperature": 0})
    assert (cfg.budget, cfg.sleep_model, cfg.temperature) == (2, "scripted", 0)
    again = SleepTimeConfig.from_mapping(cfg, samples=2)
    assert (again.budget, again.samples) == (2, 2) and cfg.samples == 1
    model = ScriptedChatModel(replies=["x"])
    assert SleepTimeConfig.from_mapping(None, wake_model=model).wake_model is model
    with pytest.raises(InvalidInputError, match="mapping"):
        SleepTimeConfig.from_mapping(["budget"])  # type: ignore[arg-type]


def test_a_dict_context_in_process_is_validated(memory_store: InMemoryStore) -> None:
    graph = build_wake_graph().compile(store=memory_store)
    with pytest.raises(InvalidInputError, match=r"\['budgett'\]"):
        graph.invoke({"question": "How much?", "mode": "test-time"}, context={"budgett": 2})
    with pytest.raises(InvalidInputError, match="budget"):
        graph.invoke({"question": "How much?", "mode": "test-time"}, context={"budget": 9})


def test_a_dict_context_runs_with_its_values(memory_store: InMemoryStore) -> None:
    model = staged_model()
    graph = build_wake_graph().compile(store=memory_store)
    out = graph.invoke({"question": "How much?", "mode": "test-time"},
                       context={"wake_model": model, "budget": 3, "verify": "off"})
    assert out["current_budget"] == 3 and out["reason"] == "not verified"


def test_sleep_without_context_id_is_a_typed_error(memory_store: InMemoryStore) -> None:
    graph = build_sleep_graph().compile(store=memory_store)
    with pytest.raises(InvalidInputError, match="a sleep run needs a context_id"):
        graph.invoke({"text": CONTEXT}, context=SleepTimeConfig(sleep_model=staged_model()))  # type: ignore[typeddict-item]


def test_wake_inputs_are_checked(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    with pytest.raises(InvalidInputError, match="mode must be one of learned, test-time; got 'testtime'"):
        app.ask("How much?", "shop", mode="testtime")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="mode 'learned' needs a context_id"):
        app.ask("How much?")
    with pytest.raises(InvalidInputError, match="budget"):
        app.ask("How much?", "shop", budget="2")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="unknown config key"):
        app.ask("How much?", "shop", budgett=2)


def test_input_checks_directly() -> None:
    assert check_mode("test-time") == "test-time" and check_mode("learned") == "learned"
    with pytest.raises(InvalidInputError, match="use one of learned, test-time"):
        check_mode("sleep")
    assert wake_budget(None, 1) == 1 and wake_budget(4, 1) == 4
    with pytest.raises(InvalidInputError, match=r"0\.\.4"):
        wake_budget(5, 1)
    with pytest.raises(InvalidInputError, match="non-empty"):
        check_context_id("  ")


def _run_runtime(context: Any) -> Any:
    return _ExecutionRuntime(access_context="threads.create_run", user=None, store=InMemoryStore(), context=context)


@pytest.mark.parametrize("factory", [server.sleep_graph, server.wake_graph, server.chat_graph])
def test_server_factories_validate_the_unfiltered_context(factory: Any) -> None:
    # The server would drop "budgett" before the graph sees it; its factory sees it first.
    with pytest.raises(InvalidInputError, match=r"\['budgett'\]; known keys"):
        factory(_run_runtime({"budgett": 2}))
    with pytest.raises(InvalidInputError, match="budget"):
        factory(_run_runtime({"budget": 9}))
    graph = factory(_run_runtime({"budget": 2, "sleep_model": "scripted"}))
    assert graph.context_schema is SleepTimeConfig
    assert factory(_run_runtime(None)) is graph
    # Schema reads carry no context and are not checked.
    assert factory(_ReadRuntime(access_context="assistants.read", user=None, store=InMemoryStore())) is graph


def _parent_calling_wake(memory_store: InMemoryStore) -> Any:
    """A parent graph with no context schema whose node runs the wake graph without a context:
    LangGraph hands the parent's (dict) context down."""
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict, total=False):
        answer: str
        budget: int

    wake = build_wake_graph().compile(store=memory_store)

    def ask(state: State) -> dict[str, Any]:
        out = wake.invoke({"question": "How much?", "mode": "test-time"})
        return {"answer": out["answer"], "budget": out["current_budget"]}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    return builder.compile(store=memory_store)


def test_a_parent_graphs_dict_context_is_validated_too(memory_store: InMemoryStore) -> None:
    parent = _parent_calling_wake(memory_store)
    out = parent.invoke({}, context={"wake_model": staged_model(answer="six"), "budget": 3, "verify": "off"})
    assert out == {"answer": "six", "budget": 3}
    with pytest.raises(InvalidInputError, match=r"\['user_id'\]; known keys"):
        parent.invoke({}, context={"user_id": "u1"})
