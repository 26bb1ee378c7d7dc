"""Predictability: log p(question | context) under a local llama.cpp model.

The context and the question are tokenized together; the question's tokens are those after the longest common
prefix with the context's own tokens; their log-probabilities (from ``logits_all=True`` scores, log-softmaxed)
are summed. The GGUF file comes from :func:`sleeptime.local.gguf.ensure_gguf`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.examples import Example
from evals.options import PredictabilityOptions, RunOptions, expect
from evals.pareto import budget_keys, budget_task
from evals.records import RECORDS_FILE, Record, read_records
from evals.runner import Emit, Env, RunnerSpec, base_record, error_record, make_key, timed
from evals.stats import mean_interval
from evals.tables import mean
from sleeptime.experimental import GGUF_REGISTRY as REGISTRY
from sleeptime.experimental import ensure_gguf


class LogProbScorer:
    """Sums log p(question tokens | context) with one llama.cpp model (calls serialised by a lock)."""

    def __init__(self, name_or_path: str, n_ctx: int = 1024) -> None:
        # Lazy: llama-cpp-python is the optional "local" extra, needed only when a scorer is built.
        import llama_cpp

        name = name_or_path.removeprefix("embedded:")
        path = str(ensure_gguf(name)) if name in REGISTRY else name_or_path.removeprefix("gguf:")
        self.n_ctx = n_ctx
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, logits_all=True, verbose=False)
        self._lock = threading.Lock()

    def score(self, context: str, question: str) -> tuple[float, int]:
        """(sum of the question tokens' log-probabilities, number of question tokens)."""
        ctx = self.llm.tokenize(context.encode("utf-8"), add_bos=True)
        full = self.llm.tokenize((context + " " + question).encode("utf-8"), add_bos=True)
        if len(full) > self.n_ctx:
            raise ValueError(f"{len(full)} tokens do not fit n_ctx={self.n_ctx}")
        start = 0
        while start < min(len(ctx), len(full)) and ctx[start] == full[start]:
            start += 1
        start = max(start, 1)  # the first token has no condition
        with self._lock:
            self.llm.reset()  # type: ignore[no-untyped-call]
            self.llm.eval(full)
            scores = np.asarray(self.llm.scores[: len(full)], dtype=np.float64)
        total = 0.0
        for pos in range(start, len(full)):
            row = scores[pos - 1]
            m = float(row.max())
            lse = m + math.log(float(np.exp(row - m).sum()))
            total += float(row[full[pos]]) - lse
        return total, len(full) - start


_scorers: dict[tuple[str, int], LogProbScorer] = {}
_scorers_lock = threading.Lock()


def scorer_for(opts: PredictabilityOptions) -> LogProbScorer:
    spec = opts.lp_model or opts.wake_spec
    with _scorers_lock:
        key = (spec, opts.lp_n_ctx)
        if key not in _scorers:
            _scorers[key] = LogProbScorer(spec, opts.lp_n_ctx)
        return _scorers[key]


Scorer = Callable[[str, str], tuple[float, int]]


def predictability_task(env: Env, ex: Example, done: set[str], emit: Emit,
                        scorer: Scorer | None = None) -> None:
    """The log-probability record; then (unless --from-run supplies them) both modes at each budget."""
    o = expect(env.opts, PredictabilityOptions)
    key = make_key(ex.id, "logprob")
    if key not in done:
        try:
            fn = scorer or scorer_for(o).score
            (lp, n), lat = timed(lambda: fn(ex.context, ex.question))
            emit(base_record(ex, o, key=key, mode="logprob", logprob=lp, question_tokens=n,
                             logprob_per_token=lp / n if n else None, lp_model=o.lp_model or o.wake_spec,
                             latency_s=round(lat, 3)))
        except Exception as exc:
            emit(error_record(ex, o, key=key, exc=exc, mode="logprob"))
    if o.from_run:
        _copy_from_run(o, ex, done, emit)
    else:
        budget_task(env, ex, done, emit)


def _copy_from_run(o: PredictabilityOptions, ex: Example, done: set[str], emit: Emit) -> None:
    """Reuse another run's test-time and sleep records of this example instead of answering again."""
    for r in _from_run_records(str(Path(o.from_run or "") / RECORDS_FILE)):
        if r.get("example_id") == ex.id and r.get("mode") in ("test-time", "sleep", "sleep-run") \
                and r.get("key") not in done:
            emit({**r, "experiment": o.experiment, "copied_from": o.from_run})


_run_cache: dict[str, list[Record]] = {}


def _from_run_records(path: str) -> list[Record]:
    if path not in _run_cache:
        _run_cache[path] = read_records(path)
    return _run_cache[path]


def predictability_keys(opts: RunOptions, ex: Example) -> list[str]:
    opts = expect(opts, PredictabilityOptions)
    keys = [make_key(ex.id, "logprob")]
    if opts.from_run:
        return keys  # copied records are whatever the other run has
    return keys + budget_keys(opts, ex)


def quantile_bins(values: Sequence[float], bins: int) -> list[int]:
    """The bin (0..bins-1, low to high) of each value by rank, as equal-count as possible."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0] * len(values)
    for rank, i in enumerate(order):
        out[i] = min(bins - 1, rank * bins // max(1, len(values)))
    return out


def per_token_logprob(r: Mapping[str, Any]) -> float | None:
    """log p(question | context) / question tokens of a logprob record; None without both."""
    if r.get("logprob_per_token") is not None:
        return float(r["logprob_per_token"])
    n = r.get("question_tokens")
    return float(r["logprob"]) / int(n) if r.get("logprob") is not None and n else None


def predictability_table(records: Iterable[Mapping[str, Any]], bins: int = 5) -> list[dict[str, Any]]:
    """Examples binned by log p(question | context) **per question token** (the total correlated -0.85 with the
    question's length, so its bins sorted questions by length; issue 28); per bin the accuracy of both modes and
    the gain (sleep minus test-time, averaged over the budgets both modes were measured at), with a bootstrap 95%
    interval. A logprob record without its token count is left out."""
    recs = list(records)
    lp = {str(r["example_id"]): v for r in recs if r.get("mode") == "logprob"
          and (v := per_token_logprob(r)) is not None}
    by_ex: dict[str, dict[tuple[str, int], list[bool]]] = {}
    for r in recs:
        if r.get("mode") in ("test-time", "sleep") and r.get("budget") is not None:
            by_ex.setdefault(str(r["example_id"]), {}).setdefault((str(r["mode"]), int(r["budget"])), []).append(
                bool(r.get("correct")))
    ids = [e for e in lp if e in by_ex]
    if not ids:
        return []
    which = quantile_bins([lp[e] for e in ids], min(bins, len(ids)))
    rows: list[dict[str, Any]] = []
    for b in range(min(bins, len(ids))):
        members = [e for e, w in zip(ids, which, strict=True) if w == b]
        tt, sl, per_example = [], [], []
        for e in members:
            cells = by_ex[e]
            diffs = []
            for (mode, budget), vals in cells.items():
                if mode == "sleep" and ("test-time", budget) in cells:
                    sl.append(mean(1.0 if v else 0.0 for v in vals))
                    tt.append(mean(1.0 if v else 0.0 for v in cells[("test-time", budget)]))
                    diffs.append(sl[-1] - tt[-1])
            if diffs:
                per_example.append(mean(diffs))
        # The interval resamples examples (an example's budgets move together), not (example, budget) cells.
        lo, hi = mean_interval(per_example)
        rows.append({"bin": b + 1, "n": len(members), "logprob_per_token_min": min(lp[e] for e in members),
                     "logprob_per_token_max": max(lp[e] for e in members), "accuracy_test_time": mean(tt),
                     "accuracy_sleep": mean(sl), "gain": mean(sl) - mean(tt), "gain_lo": lo, "gain_hi": hi})
    return rows


def _task(env: Env, ex: Example, done: set[str], emit: Emit) -> None:
    predictability_task(env, ex, done, emit)


SPEC = RunnerSpec(PredictabilityOptions, _task, predictability_keys, desc="predictability")
