"""Paired statistics for the tables: the exact McNemar test and percentile bootstrap intervals.

Deterministic (a fixed seed), so a run's tables regenerate byte for byte from its records.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

RESAMPLES = 2000
SEED = 0


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p for b pairs right only with one arm and c right only with the other:
    P(a Binomial(b + c, 1/2) count at least as far from the middle), capped at 1; 1.0 when b = c = 0."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / (1 << n)
    return min(1.0, 2 * tail)


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of the values (NaN dropped), by the nearest-rank percentiles."""
    vals = sorted(v for v in values if not math.isnan(v))
    if not vals:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    lo = vals[max(0, math.ceil(alpha * len(vals)) - 1)]
    hi = vals[min(len(vals) - 1, math.ceil((1 - alpha) * len(vals)) - 1)]
    return lo, hi


def bootstrap(n: int, statistic: Callable[[list[int]], float], *, resamples: int = RESAMPLES,
              seed: int = SEED) -> list[float]:
    """The statistic on ``resamples`` resamples (with replacement) of the indices 0..n-1; [] when n is 0."""
    if n <= 0:
        return []
    rng = random.Random(seed)
    idx = range(n)
    return [statistic(rng.choices(idx, k=n)) for _ in range(resamples)]


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of the mean of the values (accuracy: of 0/1 grades)."""
    vals = list(values)
    return percentile_interval(bootstrap(len(vals), lambda ix: sum(vals[i] for i in ix) / len(ix)), level)


def ratio_of_means(num: Sequence[float], den: Sequence[float], ix: Sequence[int]) -> float:
    """mean(num[ix]) / mean(den[ix]); NaN when the denominator's mean is 0."""
    d = sum(den[i] for i in ix)
    return sum(num[i] for i in ix) / d if d else math.nan


def cluster_bootstrap(clusters: Sequence[Sequence[int]], statistic: Callable[[list[int]], float], *,
                      resamples: int = RESAMPLES, seed: int = SEED) -> list[float]:
    """The statistic on resamples of whole clusters (with replacement), each resample the concatenated indices
    of the drawn clusters: for questions that share a context (Multi-Query), which are not independent."""
    if not clusters:
        return []
    rng = random.Random(seed)
    out: list[float] = []
    for _ in range(resamples):
        drawn = rng.choices(range(len(clusters)), k=len(clusters))
        out.append(statistic([i for c in drawn for i in clusters[c]]))
    return out


def cluster_signflip_p(cluster_diffs: Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED) -> float:
    """Two-sided p of a paired difference whose units are clusters: each cluster's summed difference (arm minus
    baseline, over its questions) keeps or flips its sign; p = share of sign assignments whose total is at least
    as far from 0 as the observed one. Exact over all 2^k assignments for k <= 16 clusters, else ``resamples``
    random ones (fixed seed) plus the observed; 1.0 when every difference is 0."""
    diffs = [d for d in cluster_diffs if d != 0]
    observed = abs(sum(diffs))
    if not diffs:
        return 1.0
    k = len(diffs)
    if k <= 16:
        hits = sum(1 for mask in range(1 << k)
                   if abs(sum(d if mask >> j & 1 else -d for j, d in enumerate(diffs))) >= observed - 1e-12)
        return hits / (1 << k)
    rng = random.Random(seed)
    hits = 1 + sum(1 for _ in range(resamples)
                   if abs(sum(d if rng.random() < 0.5 else -d for d in diffs)) >= observed - 1e-12)
    return hits / (resamples + 1)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p values, in the order given: the i-th smallest of m raw p values is multiplied by
    m - i + 1 (i from 1), kept at least as large as every smaller one's adjusted value (step-down) and capped at 1.
    Rejecting where the adjusted p < alpha keeps the chance of any false rejection in the family at most alpha.
    A NaN p stays NaN and does not count in m."""
    order = sorted((i for i, p in enumerate(p_values) if not math.isnan(p)), key=lambda i: p_values[i])
    m = len(order)
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out
