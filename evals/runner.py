"""The experiment runner: per-example work on a fresh store, one JSONL record per result, resumable.

Every record has a ``key`` (example id plus what was measured); a rerun skips keys already present.

Each example gets a fresh context id and its own ``InMemoryStore`` indexed with the embedded MiniLM
embeddings (the same index the package's Chroma store uses). We chose the in-memory store over a Chroma
store under the run dir because (a) a run dir then never holds problem text (GSM-Symbolic is
NoDerivatives, and run dirs under ``evals/results/`` are committed), (b) examples cannot see each other's
learned contexts, and (c) nothing on disk has to be cleaned up or locked between concurrent workers.
The cost: a learned context is not kept across a kill, so an example interrupted between its sleep and its
last answer sleeps again on resume (its finished records are still skipped).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Any

from langgraph.store.memory import InMemoryStore
from tqdm import tqdm

from evals.aime import prompt_settings
from evals.datasets import load_dataset
from evals.examples import Example
from evals.grading import extract_aime_answer, extract_gsm_answer, grade_aime, grade_gsm
from evals.options import RunOptions
from evals.provenance import commit, settings_hash
from evals.records import Record, RecordWriter, read_records
from sleeptime import SleepTime, resolve_chat_model, resolve_embeddings
from sleeptime.experimental import INDEXED_FIELDS, experiment_from_names

# ---------------------------------------------------------------------------------------------- grading


def grade(reply: str, gold: str, source: str) -> tuple[bool, str | None]:
    """(correct, extracted answer) with the paper's grader for the example's source."""
    if source.startswith("aime"):
        got = extract_aime_answer(reply)
        return grade_aime(reply, gold), None if got is None else str(got)
    return grade_gsm(reply, gold), extract_gsm_answer(reply)


# ---------------------------------------------------------------------------------------------- apps


_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def fresh_context_id(example_id: str) -> str:
    """A new context id for one example (no '.' or '*', as the store requires)."""
    return f"{_SAFE.sub('-', example_id)[:80]}-{uuid.uuid4().hex[:8]}"


_emb_lock = threading.Lock()
_emb_cache: dict[str, Any] = {}


def shared_embeddings(spec: Any) -> Any:
    """The embeddings for a spec, made once per process (MiniLM loads once)."""
    if not isinstance(spec, str):
        return spec
    with _emb_lock:
        if spec not in _emb_cache:
            _emb_cache[spec] = resolve_embeddings(spec)
        return _emb_cache[spec]


def new_memory_store(embeddings: Any) -> Any:
    """A fresh InMemoryStore indexed like the package's Chroma store (raw chunks and predicted questions)."""
    emb = shared_embeddings(embeddings)
    dims = len(emb.embed_query("dimension probe"))
    return InMemoryStore(index={"dims": dims, "embed": emb, "fields": INDEXED_FIELDS})


@dataclass
class Env:
    """What a task needs: options plus model overrides (tests pass scripted models here)."""

    opts: RunOptions
    wake_model: Any = None
    sleep_model: Any = None
    embeddings: Any = None

    def app(self, **overrides: Any) -> Any:
        o = self.opts
        cfg: dict[str, Any] = {
            "wake_model": self.wake_model if self.wake_model is not None else o.wake_spec,
            "sleep_model": self.sleep_model if self.sleep_model is not None else o.sleep_spec,
            "base_url": o.base_url,
            "max_rounds": o.max_rounds,
            "samples": o.samples,
            "experiment": experiment_from_names(sample_merge=o.sample_merge, rethink=o.rethink,
                                                question_work=o.question_work, sampling=o.sampling),
            "n_questions": o.n_questions,
            "verify": o.verify,
            "max_tokens_sleep": o.max_tokens_sleep,
            "max_tokens_wake": o.max_tokens_wake,
            "reasoning_effort": o.reasoning_effort,
            "sleep_reasoning_effort": o.sleep_reasoning_effort,
            **prompt_settings(o.dataset),  # Stateful AIME: the paper's sleep prompt, \boxed{} answers
        }
        cfg.update(overrides)
        emb = self.embeddings if self.embeddings is not None else o.embeddings
        return SleepTime(store=new_memory_store(emb), **cfg)

    def chat_model(self, which: str = "sleep", **settings: Any) -> Any:
        given = self.sleep_model if which == "sleep" else self.wake_model
        if given is not None:
            return given
        spec = self.opts.sleep_spec if which == "sleep" else self.opts.wake_spec
        effort = self.opts.sleep_reasoning_effort if which == "sleep" else self.opts.reasoning_effort
        return resolve_chat_model(spec, base_url=self.opts.base_url, reasoning_effort=effort, **settings)


# ---------------------------------------------------------------------------------------------- records


def base_record(ex: Example, opts: RunOptions, **fields: Any) -> Record:
    """Common fields. No problem text and no gold answer: records may be committed (GSM-Symbolic is ND)."""
    rec: Record = {
        "experiment": opts.experiment,
        "commit": commit(),
        "settings_hash": settings_hash(asdict(opts)),
        "example_id": ex.id,
        "source": ex.source,
        "model": opts.wake_spec,
        "sleep_model": opts.sleep_spec,
    }
    rec.update(fields)
    return rec


def answer_record(
    ex: Example,
    opts: RunOptions,
    *,
    key: str,
    mode: str,
    budget: int,
    answer: Any,
    latency: float,
    **extra: Any,
) -> Record:
    """A record from a facade ``Answer`` (tokens from the model's own usage reports)."""
    correct, extracted = grade(answer.answer, ex.answer, ex.source)
    wake = answer.wake_usage
    sleep = answer.sleep_usage
    return base_record(
        ex,
        opts,
        key=key,
        mode=mode,
        budget=budget,
        answer=answer.answer,
        extracted=extracted,
        correct=correct,
        path=answer.route,  # records keep their `path` key
        escalations=answer.escalations,
        input_tokens=wake.input_tokens,
        output_tokens=wake.output_tokens,
        reasoning_tokens=wake.reasoning_tokens,
        wake_calls=wake.calls,
        # a reply as long as the wake cap was cut there (its answer may be missing): counted, not hidden
        hit_max_tokens=bool(wake.output_tokens is not None and wake.calls == 1 and opts.budget_mode == "levels"
                            and wake.output_tokens >= opts.max_tokens_wake),
        sleep_input_tokens=sleep.input_tokens if mode != "test-time" else 0,
        sleep_output_tokens=sleep.output_tokens if mode != "test-time" else 0,
        sleep_reasoning_tokens=sleep.reasoning_tokens if mode != "test-time" else 0,
        latency_s=round(latency, 3),
        **_match_fields(answer),
        **extra,
    )


MATCH_FIELDS = ("match_score", "match_reason")


def _match_fields(answer: Any) -> dict[str, Any]:
    """Where predicted-question matching ran: the nearest predicted question's score and why it was or was not
    served (the reason quotes the question, so it goes to the texts file)."""
    if answer.match_score is None:
        return {}
    return dict(zip(MATCH_FIELDS, (round(float(answer.match_score), 4), answer.match_reason), strict=True))


def error_record(ex: Example, opts: RunOptions, *, key: str, exc: BaseException, **extra: Any) -> Record:
    """A failed measurement: graded wrong, with no token counts (never zeroed: None is skipped in means)."""
    return base_record(
        ex,
        opts,
        key=key,
        answer="",
        extracted=None,
        correct=False,
        # The message of a model failure quotes the model's output (which copies the problem): texts file only.
        error=type(exc).__name__,
        error_detail=str(exc)[:500],
        input_tokens=None,
        output_tokens=None,
        reasoning_tokens=None,
        **extra,
    )


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------- the loop

Task = Callable[[Any, set[str], Callable[[Record], None]], None]
"""task(item, done_keys, emit): does the item's work, skipping keys in done_keys, emitting each record."""


def run_items(
    items: Sequence[Any],
    *,
    item_id: Callable[[Any], str],
    expected_keys: Callable[[Any], Iterable[str]],
    task: Task,
    records_path: str | os.PathLike[str],
    concurrency: int = 1,
    progress: bool = True,
    desc: str = "examples",
) -> list[Record]:
    """Run ``task`` on every item not finished yet; return all records (old and new) of the file."""
    existing = read_records(records_path)
    done = {str(r["key"]) for r in existing if "key" in r}
    writer = RecordWriter(records_path)
    todo = [it for it in items if not set(expected_keys(it)) <= done]
    skipped = len(items) - len(todo)

    def one(it: Any) -> None:
        mine = {k for k in done if k.startswith(item_id(it) + "|")}
        task(it, mine, writer.write)

    bar = tqdm(total=len(items), initial=skipped, desc=desc, unit="ex", disable=not progress, file=sys.stderr)
    try:
        if concurrency <= 1:
            for it in todo:
                one(it)
                bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                futures = [pool.submit(one, it) for it in todo]
                for fut in as_completed(futures):
                    fut.result()
                    bar.update(1)
    finally:
        bar.close()
    return read_records(records_path)


def make_key(example_id: str, *parts: object) -> str:
    return "|".join([example_id, *(str(p) for p in parts)])


def load_examples(opts: RunOptions) -> list[Example]:
    return load_dataset(opts.dataset, data_dir=opts.data_dir, limit=opts.limit, seed=opts.seed,
                        split_rule=opts.split_rule)  # type: ignore[arg-type]


Emit = Callable[[Record], None]


@dataclass(frozen=True)
class RunnerSpec:
    """How the runner drives one experiment: its options type, its items, and per item the keys it will write
    and the task that writes them."""

    options: type[RunOptions]
    task: Callable[[Env, Any, set[str], Emit], None]
    keys: Callable[[RunOptions, Any], list[str]]
    items: Callable[[RunOptions, Env], Sequence[Any]] = lambda opts, env: load_examples(opts)
    item_id: Callable[[Any], str] = lambda ex: str(ex.id)
    desc: str = "examples"
