"""Experiment strategies chosen by name (the CLI, the evals lab) and kept out of a server's JSON context."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleeptime.config import SleepTimeConfig
from sleeptime.graphs.sleep import build_sleep_graph
from sleeptime.notes.strategies import (
    CONCAT,
    EXPRESSIONS,
    MAJORITY,
    RECONCILE,
    WORKED,
    Experiment,
    experiment_from_names,
)


def test_names_map_to_strategies_and_the_defaults_to_none() -> None:
    assert experiment_from_names() is None
    assert experiment_from_names("expressions", "concat") is None  # the measured winner is the default (issue 28)
    assert experiment_from_names("worked", "concat") == Experiment(WORKED, CONCAT)
    assert experiment_from_names(sample_merge="majority") == Experiment(EXPRESSIONS, MAJORITY)
    assert Experiment() == Experiment(EXPRESSIONS, CONCAT)
    with pytest.raises(KeyError):
        experiment_from_names(sample_merge="vote")


def test_the_server_schema_leaves_strategies_out() -> None:
    schema = build_sleep_graph().compile().get_context_jsonschema()["properties"]
    assert schema["experiment"]["type"] == "null"
    assert "notes_style" not in schema and "sample_merge" not in schema
    assert SleepTimeConfig.from_mapping({"experiment": None}).experiment is None


def test_the_evals_runner_maps_its_sample_merge_name(tmp_path: Path) -> None:
    from evals.options import RunOptions
    from evals.runner import Env
    from sleeptime.testing import HashEmbeddings, ScriptedChatModel

    model = ScriptedChatModel(replies=["x"])
    for name, expected in (("majority", Experiment(sample_merge=MAJORITY)), ("concat", None),
                           ("reconcile", Experiment(sample_merge=RECONCILE))):
        opts = RunOptions(experiment="pareto", out=str(tmp_path), sample_merge=name)
        env = Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings(8))
        assert env.app().config.experiment == expected
