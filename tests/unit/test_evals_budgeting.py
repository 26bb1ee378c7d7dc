"""Budget allocation arithmetic and the agreement estimate."""

from __future__ import annotations

import pytest

from evals.budgeting import agreement, allocate, units_to_plan
from sleeptime.testing import HashEmbeddings


def test_uniform_spreads_equally_and_adds_up() -> None:
    plans = allocate({"a": 0.9, "b": 0.1, "c": 0.5}, total_tokens=9 * 100, tokens_per_unit=100,
                     weighting="uniform", max_rounds=4, max_samples=1)
    assert [p.units for p in plans] == [3, 3, 3]
    assert [p.rounds for p in plans] == [3, 3, 3]


def test_predictability_weighting_gives_more_to_predictable_contexts() -> None:
    plans = allocate({"a": 0.9, "b": 0.3, "c": 0.6}, total_tokens=900, tokens_per_unit=100,
                     weighting="predictability", max_rounds=8, max_samples=1, power=1.0)
    units = {p.context_id: p.units for p in plans}
    assert sum(units.values()) == 9
    # 1 unit each, 6 spare split 0.9:0.3:0.6 -> 3, 1, 2.
    assert units == {"a": 4, "b": 2, "c": 3}


def test_power_sharpens_the_split() -> None:
    flat = allocate({"a": 0.8, "b": 0.4}, 1000, 100, max_rounds=10, max_samples=1, power=1.0)
    sharp = allocate({"a": 0.8, "b": 0.4}, 1000, 100, max_rounds=10, max_samples=1, power=2.0)
    assert flat[0].units < sharp[0].units
    assert sum(p.units for p in sharp) == 10


def test_caps_redistribute_the_overflow() -> None:
    plans = allocate({"a": 1.0, "b": 0.01}, 1000, 100, max_rounds=3, max_samples=1)
    assert [p.units for p in plans] == [3, 3]  # a capped at 3; b gets what is left, up to its cap


def test_leftover_budget_beyond_all_caps_is_not_spent() -> None:
    plans = allocate({"a": 0.5, "b": 0.5}, 10_000, 100, max_rounds=2, max_samples=2)
    assert [p.units for p in plans] == [4, 4]
    assert [(p.rounds, p.samples) for p in plans] == [(2, 2), (2, 2)]


def test_zero_predictability_still_gets_the_minimum() -> None:
    plans = allocate({"a": 0.0, "b": 0.7}, 500, 100, max_rounds=5, max_samples=1)
    assert {p.context_id: p.units for p in plans} == {"a": 1, "b": 4}


def test_all_zero_predictability_falls_back_to_uniform() -> None:
    plans = allocate({"a": 0.0, "b": 0.0}, 600, 100, max_rounds=5, max_samples=1)
    assert [p.units for p in plans] == [3, 3]


def test_too_small_a_budget_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot give"):
        allocate({"a": 0.5, "b": 0.5, "c": 0.5}, 250, 100)
    with pytest.raises(ValueError, match="tokens_per_unit"):
        allocate({"a": 0.5}, 250, 0)


def test_empty_input() -> None:
    assert allocate({}, 100, 10) == []


@pytest.mark.parametrize(
    ("units", "max_rounds", "max_samples", "plan"),
    [(1, 4, 2, (1, 1)), (4, 4, 2, (4, 1)), (5, 4, 2, (2, 2)), (8, 4, 2, (4, 2)), (12, 4, 2, (4, 2))],
)
def test_units_to_plan(units: int, max_rounds: int, max_samples: int, plan: tuple[int, int]) -> None:
    rounds, samples = units_to_plan(units, max_rounds, max_samples)
    assert (rounds, samples) == plan
    assert rounds * samples <= units


def test_agreement_is_high_for_alike_sets_and_low_for_unrelated() -> None:
    emb = HashEmbeddings(256)
    same = [emb.embed_documents(["how many pens are left", "what does alice pay"]),
            emb.embed_documents(["what does alice pay", "how many pens are left"])]
    other = [emb.embed_documents(["how many pens are left"]),
             emb.embed_documents(["zebra quantum violin"])]
    assert agreement(same) == pytest.approx(1.0)
    assert agreement(other) < 0.5
    assert agreement([emb.embed_documents(["x"])]) == 0.0
    assert agreement([[], emb.embed_documents(["x"])]) == 0.0
