"""Sleep-time budgets set by predictability: spend more reflect work where questions are predictable.

The paper finds sleep-time compute pays most when the question is predictable from the context, and
leaves open how to split a fixed compute budget. Here, during sleep:

1. :func:`agreement` estimates a context's predictability as the agreement among k independent sets
   of predicted questions (k probe samples): for every pair of sets, each question's best cosine
   match in the other set, averaged both ways, then averaged over pairs. Questions that several samples
   predict alike are likely to be asked (in the paper's sense: the context points at them).
2. :func:`allocate` splits a total sleep-token budget into reflect *units* (one round of one sample,
   costing at most ``tokens_per_unit`` output tokens), gives every context ``min_units`` and spreads the
   rest in proportion to ``predictability ** power`` (``uniform``: equally), capped at
   ``max_rounds * max_samples`` per context, by largest remainders so the units add up exactly.
3. :func:`units_to_plan` turns units into (rounds, samples): rounds first, then more samples.

All arithmetic is integer and deterministic; nothing here calls a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Weighting = Literal["uniform", "predictability"]


def _cos(a: Sequence[float], b: Sequence[float]) -> float:
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(x * x for x in b)) or 1.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)


def _soft_overlap(xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]]) -> float:
    forward = sum(max(_cos(x, y) for y in ys) for x in xs) / len(xs)
    backward = sum(max(_cos(y, x) for x in xs) for y in ys) / len(ys)
    return (forward + backward) / 2


def agreement(question_sets: Sequence[Sequence[Sequence[float]]]) -> float:
    """Predictability in [0, 1] from the embedded questions of k >= 2 probe samples.

    Empty sets count as no agreement; a single set gives 0.0 (nothing to agree with).
    """
    sets = [s for s in question_sets]
    if len(sets) < 2 or any(len(s) == 0 for s in sets):
        return 0.0
    pairs = [(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))]
    value = sum(_soft_overlap(sets[i], sets[j]) for i, j in pairs) / len(pairs)
    return max(0.0, min(1.0, value))


@dataclass(frozen=True)
class Plan:
    """The sleep work one context gets."""

    context_id: str
    predictability: float
    units: int
    rounds: int
    samples: int


def units_to_plan(units: int, max_rounds: int, max_samples: int) -> tuple[int, int]:
    """(rounds, samples) with rounds * samples <= units: rounds first, then more samples of those rounds."""
    if units < 1:
        raise ValueError("a plan needs at least one unit")
    samples = min(max_samples, math.ceil(units / max_rounds))
    rounds = min(max_rounds, units // samples)
    return rounds, samples


def allocate(
    predictability: Mapping[str, float],
    total_tokens: int,
    tokens_per_unit: int,
    *,
    weighting: Weighting = "predictability",
    min_units: int = 1,
    max_rounds: int = 4,
    max_samples: int = 2,
    power: float = 2.0,
) -> list[Plan]:
    """Split ``total_tokens`` of sleep output into per-context plans (see the module doc).

    Raises ValueError when the budget cannot give every context ``min_units``.
    """
    if tokens_per_unit <= 0:
        raise ValueError("tokens_per_unit must be > 0")
    ids = list(predictability)
    if not ids:
        return []
    cap = max_rounds * max_samples
    if not 1 <= min_units <= cap:
        raise ValueError(f"min_units must be in 1..{cap}")
    total_units = total_tokens // tokens_per_unit
    if total_units < min_units * len(ids):
        raise ValueError(
            f"budget of {total_tokens} tokens ({total_units} units) cannot give {len(ids)} contexts "
            f"{min_units} unit(s) each"
        )
    units = {cid: min_units for cid in ids}
    spare = min(total_units - min_units * len(ids), (cap - min_units) * len(ids))
    open_ids = list(ids)
    while spare > 0 and open_ids:
        if weighting == "uniform":
            weights = {cid: 1.0 for cid in open_ids}
        else:
            weights = {cid: max(0.0, float(predictability[cid])) ** power for cid in open_ids}
            if sum(weights.values()) <= 0:
                weights = {cid: 1.0 for cid in open_ids}
        total_w = sum(weights.values())
        shares = {cid: spare * weights[cid] / total_w for cid in open_ids}
        given = {cid: min(int(shares[cid]), cap - units[cid]) for cid in open_ids}
        left = spare - sum(given.values())
        # Largest remainders (ties: higher predictability, then id) take the leftover units one each.
        order = sorted(open_ids, key=lambda c: (-(shares[c] - int(shares[c])), -predictability[c], c))
        for cid in order:
            if left <= 0:
                break
            if units[cid] + given[cid] < cap and weights[cid] > 0:
                given[cid] += 1
                left -= 1
        for cid in open_ids:
            units[cid] += given[cid]
        spare = left
        before = len(open_ids)
        open_ids = [c for c in open_ids if units[c] < cap and weights[c] > 0]
        if len(open_ids) == before and sum(given.values()) == 0:
            break  # nothing more can be placed
    plans = []
    for cid in ids:
        rounds, samples = units_to_plan(units[cid], max_rounds, max_samples)
        plans.append(Plan(cid, float(predictability[cid]), units[cid], rounds, samples))
    return plans
