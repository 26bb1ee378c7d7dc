"""The experiment runner: per-example work on a fresh store, one JSONL record per result, resumable.

Records are appended one line at a time and flushed (write-ahead): a killed run leaves at most one partial
last line, which :func:`read_records` ignores and :class:`RecordWriter` cuts off before appending again.
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

import contextlib
import json
import os
import platform
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.datasets import Example
from evals.grading import extract_aime_answer, extract_gsm_answer, grade_aime, grade_gsm

RECORDS_FILE = "records.jsonl"
TEXTS_FILE = "texts.jsonl"
RUN_FILE = "run.json"
#: Model-written text, kept beside the records in TEXTS_FILE (git-ignored): the notes and answers of
#: small models copy the problem text, and GSM-Symbolic is NoDerivatives, so it must not be committed.
TEXT_FIELDS = ("answer", "learned", "predicted", "match_reason", "error_detail")

Record = dict[str, Any]


# ---------------------------------------------------------------------------------------------- JSONL


def _read_jsonl(p: Path) -> list[Record]:
    if not p.exists():
        return []
    out: list[Record] = []
    lines = p.read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # the unterminated tail of a killed append
                break
            raise ValueError(f"{p}:{i + 1}: corrupt record line") from None
        if isinstance(row, dict):
            out.append(row)
    return out


def read_records(path: str | os.PathLike[str]) -> list[Record]:
    """Every complete record of a JSONL file, with its model text from the TEXTS_FILE beside it when present.

    A torn (unterminated, unparsable) last line is ignored.
    """
    p = Path(path)
    records = _read_jsonl(p)
    texts = {str(t.pop("key")): t for t in _read_jsonl(p.with_name(TEXTS_FILE)) if "key" in t}
    for r in records:
        r.update(texts.get(str(r.get("key")), {}))
    return records


def _repair_tail(p: Path) -> None:
    """Cut an unterminated last line (a killed write) so the next append starts on a fresh line."""
    if not p.exists() or p.stat().st_size == 0:
        return
    with p.open("rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        try:
            json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            fh.truncate(cut)
            return
        fh.seek(0, os.SEEK_END)
        fh.write(b"\n")  # a complete record that only lacked its newline


class RecordWriter:
    """Appends records to a JSONL file, one flushed line each, safe across threads.

    TEXT_FIELDS go to the TEXTS_FILE beside it, written first, so a record never lacks its text.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.texts_path = self.path.with_name(TEXTS_FILE)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(self.path)
        _repair_tail(self.texts_path)
        self._lock = threading.Lock()
        self._fsync = fsync

    def _append(self, path: Path, row: Mapping[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            fh.flush()
            if self._fsync:
                os.fsync(fh.fileno())

    def write(self, record: Mapping[str, Any]) -> None:
        texts = {k: record[k] for k in TEXT_FIELDS if k in record}
        rest = {k: v for k, v in record.items() if k not in texts}
        with self._lock:
            if texts:
                self._append(self.texts_path, {"key": record.get("key"), **texts})
            self._append(self.path, rest)


# ---------------------------------------------------------------------------------------------- grading


def grade(reply: str, gold: str, source: str) -> tuple[bool, str | None]:
    """(correct, extracted answer) with the paper's grader for the example's source."""
    if source.startswith("aime"):
        got = extract_aime_answer(reply)
        return grade_aime(reply, gold), None if got is None else str(got)
    return grade_gsm(reply, gold), extract_gsm_answer(reply)


# ---------------------------------------------------------------------------------------------- options


def parse_int_list(text: str) -> list[int]:
    """``"0,1,4"`` -> ``[0, 1, 4]``."""
    return [int(x) for x in text.split(",") if x.strip()]


@dataclass
class RunOptions:
    """What an experiment run is told (all of it is written to run.json)."""

    experiment: str
    out: str
    dataset: str = "gsm-p2"
    data_dir: str | None = None
    limit: int | None = None
    seed: int = 0
    split_rule: str = "sentence"
    model: str = "embedded:qwen2.5-coder-0.5b"
    sleep_model: str | None = None
    base_url: str | None = None
    budgets: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    concurrency: int = 1
    max_rounds: int = 1
    samples: int = 1
    n_questions: int = 1
    verify: str = "off"
    verified: bool = False
    """Also answer with serve_predicted=True (mode "sleep+verified": verified predicted answers first)."""
    max_tokens_sleep: int = 768
    max_tokens_wake: int = 384
    # pass@k
    k: int = 5
    temperature: float = 0.7
    # scaling
    scale_samples: list[int] = field(default_factory=lambda: [1, 2, 5])
    scale_rounds: list[int] = field(default_factory=lambda: [1, 3])
    # amortization
    weight: float = 10.0
    queries: int = 10
    mq_model: str | None = None
    cache_dir: str | None = None
    # predictability
    lp_model: str | None = None
    lp_n_ctx: int = 1024
    bins: int = 5
    from_run: str | None = None
    # context-only
    guesses: int = 1
    embeddings: str = "embedded:minilm"
    progress: bool = True

    @property
    def wake_spec(self) -> str:
        return self.model

    @property
    def sleep_spec(self) -> str:
        return self.sleep_model or self.model


def machine_info() -> dict[str, Any]:
    load: list[float] = []
    with contextlib.suppress(OSError):
        load = [round(x, 2) for x in os.getloadavg()]
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "load_at_start": load,
    }


def write_run_file(opts: RunOptions, argv: Sequence[str] | None = None) -> Path:
    """run.json: the options, the exact command line and the machine. Kept from the first run, with later
    (resume) commands appended."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUN_FILE
    command = " ".join(["python -m evals", *(argv if argv is not None else sys.argv[1:])])
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("invocations", []).append({"command": command, "at": now, "machine": machine_info()})
        data["options"] = asdict(opts)
    else:
        data = {
            "experiment": opts.experiment,
            "options": asdict(opts),
            "invocations": [{"command": command, "at": now, "machine": machine_info()}],
        }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def read_run_file(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: not a run directory")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


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
            from sleeptime.models import resolve_embeddings

            _emb_cache[spec] = resolve_embeddings(spec)
        return _emb_cache[spec]


def new_memory_store(embeddings: Any) -> Any:
    """A fresh InMemoryStore indexed like the package's Chroma store (raw chunks and predicted questions)."""
    from langgraph.store.memory import InMemoryStore

    from sleeptime.stores import INDEXED_FIELDS

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
        from sleeptime.facade import SleepTime

        o = self.opts
        cfg: dict[str, Any] = {
            "wake_model": self.wake_model if self.wake_model is not None else o.wake_spec,
            "sleep_model": self.sleep_model if self.sleep_model is not None else o.sleep_spec,
            "base_url": o.base_url,
            "max_rounds": o.max_rounds,
            "samples": o.samples,
            "n_questions": o.n_questions,
            "verify": o.verify,
            "max_tokens_sleep": o.max_tokens_sleep,
            "max_tokens_wake": o.max_tokens_wake,
        }
        cfg.update(overrides)
        emb = self.embeddings if self.embeddings is not None else o.embeddings
        return SleepTime(store=new_memory_store(emb), **cfg)

    def chat_model(self, which: str = "sleep", **settings: Any) -> Any:
        from sleeptime.models import resolve_chat_model

        given = self.sleep_model if which == "sleep" else self.wake_model
        if given is not None:
            return given
        spec = self.opts.sleep_spec if which == "sleep" else self.opts.wake_spec
        return resolve_chat_model(spec, base_url=self.opts.base_url, **settings)


# ---------------------------------------------------------------------------------------------- records


def base_record(ex: Example, opts: RunOptions, **fields: Any) -> Record:
    """Common fields. No problem text and no gold answer: records may be committed (GSM-Symbolic is ND)."""
    rec: Record = {
        "experiment": opts.experiment,
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
        path=answer.path,
        escalations=answer.escalations,
        input_tokens=wake.input_tokens,
        output_tokens=wake.output_tokens,
        reasoning_tokens=wake.reasoning_tokens,
        wake_calls=wake.calls,
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
