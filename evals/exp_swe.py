"""SWE-Features on click: which files must change to implement a described change?

    python -m evals swe --model scripted --tasks 4          # the pipeline, instantly
    taskset -c 0 python -m evals swe --snapshots click-8.3.0 --tasks 3   # a small real run

For each release snapshot of click (`<data>/snapshots/click-<tag>/`), the source folder is ingested
and slept on once; each task (a merged change after that release: title plus changelog entries)
asks which source files must change; the answer's file paths are scored by F1 against the files the
change touched, as the paper's SWE-Features does. Arms: `rag@B` (test-time only: the nearest raw
chunks packed into B tokens, plain RAG) and `sleep@B` (the learned notes, expected questions and
nearest part notes and chunks, within the same B). After the tasks of a snapshot, one file is
changed and the context re-ingested and re-slept, to measure what a one-file change costs.

Records (ids and numbers) go to `<out>/records.jsonl` and `<out>/sleeps.jsonl`; the model's text
to `<out>/texts.jsonl` (git-ignored). A rerun skips what is recorded, and sleeps on a snapshot only
when the store holds no version built from exactly its files (a stopped sleep's finished part
notes are reused). A long run splits across cores and sessions:

    python -m evals swe --shard 1/2 &  python -m evals swe --shard 2/2   # records under shards/
    python -m evals swe                 # then: the one-file re-sleeps and the summary of all shards
    python -m evals swe --summarize     # the summary of the records so far, while shards run

`<out>/summary.md` holds the table: F1 per arm with a bootstrap 95% interval, tokens per query,
sleep tokens per snapshot, re-sleep tokens after a one-file change, and the cost per query with the
sleep amortized over the snapshot's real queries; beside it a floor no model needs (each task
answered with the file the other tasks changed most), sleep minus rag paired by task with a bootstrap
interval, and `<out>/swe.png`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import json
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pathspec
from langchain_core.messages import BaseMessage

from evals.options import parse_shard
from evals.stats import mean_interval

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "swe-click"
if not DEFAULT_DATA.is_dir():
    DEFAULT_DATA = Path("/work/shared/data/swe-click")
DEFAULT_OUT = ROOT / "evals" / "results" / "swe"

QUESTION = """Which source files of this codebase must change to implement the following change?
Change: {title}
{changelog}"""

# After the budget's own instruction, so it is the last thing read: with the format only in the
# question, the 0.5B echoed the question in the one sentence budget 1 asks for (session 6).
INSTRUCTIONS = "Reply with only the file paths that must change, one per line, like click/core.py."

_PATH = re.compile(r"[\w./-]*\w\.py\b")


def load_tasks(data: Path) -> list[dict[str, Any]]:
    with (data / "tasks.jsonl").open() as f:
        return [json.loads(line) for line in f if line.strip()]


def question_of(task: dict[str, Any]) -> str:
    changelog = "\n".join(f"- {c}" for c in task.get("changelog") or [])
    return QUESTION.format(title=task["title"], changelog=f"Changelog:\n{changelog}" if changelog else "")


def predicted_files(answer: str, known: Sequence[str]) -> list[str]:
    """File paths named in `answer`, mapped onto the snapshot's files (a bare name matches by name)."""
    by_name: dict[str, list[str]] = {}
    for path in known:
        by_name.setdefault(Path(path).name, []).append(path)
    found: list[str] = []
    for match in _PATH.findall(answer):
        cand = match.strip("./")
        hits = [cand] if cand in known else [k for k in known if k.endswith("/" + cand)] or by_name.get(
            Path(cand).name, []
        )
        if len(hits) == 1 and hits[0] not in found:
            found.append(hits[0])
    return found


def precision_recall(predicted: Sequence[str], gold: Sequence[str]) -> tuple[float, float]:
    """Of the files named, the share that changed; of the files that changed, the share named (0 when none)."""
    p, g = set(predicted), set(gold)
    hit = len(p & g)
    return (hit / len(p) if p else 0.0), (hit / len(g) if g else 0.0)


def f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    precision, recall = precision_recall(predicted, gold)
    return 2 * precision * recall / (precision + recall) if precision and recall else 0.0


def bootstrap(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and a percentile bootstrap 95% interval over tasks."""
    if not values:
        return 0.0, 0.0, 0.0
    lo, hi = mean_interval(values)
    return statistics.fmean(values), lo, hi


def prior_files(tasks: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """A floor no model needs: for each task, the file changed most often by the *other* tasks
    (leave one out; ties by name). Whatever an arm scores above it, it learned from the question."""
    counts: dict[str, int] = {}
    for t in tasks:
        for f in set(t["gold_files"]):
            counts[f] = counts.get(f, 0) + 1
    out: dict[str, list[str]] = {}
    for t in tasks:
        own = set(t["gold_files"])
        best = min(counts, key=lambda f: (-(counts[f] - (f in own)), f), default=None)
        out[t["id"]] = [best] if best is not None else []
    return out


def _scripted_reply(messages: list[BaseMessage]) -> str:
    """A stand-in model: notes name the part's source; answers name the first cited source."""
    from sleeptime.experimental import parts_prompt

    system, user = messages[0].text, messages[-1].text
    if system in (parts_prompt.PART_SYSTEM, parts_prompt.DESCRIBE_SYSTEM):
        return "1. " + user.splitlines()[0]
    if system == parts_prompt.REDUCE_SYSTEM:
        return "1. " + " ".join(re.findall(r"^\[([^\]]+)\]", user, re.M))[:400]
    if "JSON" in system:
        return json.dumps({"questions": [{"question": "Which file defines Context?", "answer": "click/core.py"}]})
    cited = re.findall(r"^\[(?:notes on )?([^\]:]+):", user, re.M)
    return "\n".join(dict.fromkeys(cited[:2])) or "click/core.py"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def _tokens(usage: Any) -> tuple[int, int]:
    return int(usage.input_tokens), int(usage.output_tokens)


ARMS = ("rag", "rag-hybrid", "rank", "sleep", "sleep-rank", "choose", "sleep-choose")
"""`rag`: dense search over raw chunks (plain RAG as before); `rag-hybrid`: dense + BM25 + definitions fused
by rank, no sleep output; `rank`: no model at all, the answer is the file of the hybrid search's best chunk
(it outscores the 0.5B reading that evidence, so it is the bar sleep must clear); `sleep`: the learned context
and the same hybrid search, which the sleep's part descriptions join; `sleep-rank`: as `rank`, with the part
descriptions joining the search (what sleep adds to the ranking alone); `choose`: the wake model picks one
of the hybrid search's first files, each shown as the outline of its best-ranked part (no sleep);
`sleep-choose`: the same over `sleep-rank`'s files, each shown as the sleep's description of that part."""
RANKED = {"rank": False, "sleep-rank": True}
"""The arms that answer with no model: whether the sleep's part descriptions join the search."""
SLEPT = ("sleep", "sleep-rank", "sleep-choose")
"""The arms that read sleep output (the snapshot is slept on first; its sleep is amortized over their queries)."""
CHOSEN = {"choose": False, "sleep-choose": True}
"""The arms where the wake model picks a file from the first few ranked: whether sleep output leads."""
CANDIDATES = 3
"""Files a `choose` arm shows (the search's first three hold a changed file in 89 of 94 tasks)."""
CARD_CHARS = 480
"""Characters of each candidate's outline or description: the same for both, so only their content differs."""
CHOOSE_PROMPT = """A change request for the Python library click:
{question}

The search found these files, best match first:
{cards}

Which one file must change to implement the request? The first is the search's guess; pick another only
when its description fits the request better. Reply with the file path only."""


def part_style(parts: str, show_map: bool = False, questions: int = 3) -> Any:
    """The part style `--parts` names; describe/outline with `questions` per part (doc2query: more questions, more
    ways for a change request to find the part), the reply cap grown with them (160 tokens hold 3)."""
    import dataclasses

    from sleeptime.experimental import PART_STYLES

    style = dataclasses.replace(PART_STYLES[parts], show_map=show_map)
    if questions == style.questions:
        return style
    return dataclasses.replace(style, questions=questions, max_tokens=max(style.max_tokens or 0, 60 + 30 * questions))


def _app(model: str, store_dir: Path, budget: int | None, arm: str = "sleep", parts: str = "notes",
         instructions: str = INSTRUCTIONS, sleep_model: str | None = None, show_map: bool = False,
         part_questions: int = 3) -> Any:
    from sleeptime import SleepTime
    from sleeptime.experimental import DENSE, HYBRID, Experiment

    common: dict[str, Any] = {"verify": "off", "max_escalations": 0, "n_questions": 3, "max_rounds": 1,
                              "wake_context_tokens": budget, "budget": 1, "wake_chunks": 40,
                              "answer_instructions": instructions,
                              "experiment": Experiment(retrieval=DENSE if arm == "rag" else HYBRID,
                                                       parts=part_style(parts, show_map, part_questions))}
    if model == "scripted":
        from langgraph.store.memory import InMemoryStore

        from sleeptime.testing import HashEmbeddings, ScriptedChatModel

        chat = ScriptedChatModel(default=_scripted_reply)
        store = _SCRIPTED_STORES.setdefault(
            str(store_dir),
            InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]}),
        )
        return SleepTime(store=store, sleep_model=chat, wake_model=chat, context_window=4096, **common)
    return SleepTime(path=store_dir, sleep_model=sleep_model or model, wake_model=model, **common)


_SCRIPTED_STORES: dict[str, Any] = {}


def _sleep(app: Any, context_id: str, folder: Path, include: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    record = app.ingest(context_id, folder=folder, include=include)
    ingest_s = time.perf_counter() - start
    result = app.sleep(context_id)
    tokens_in, tokens_out = _tokens(result.usage)
    return {"revision": record.revision, "chars": record.chars, "chunks": record.n_chunks,
            "files": len(record.sources), "ingest_s": round(ingest_s, 1),
            "sleep_s": round(time.perf_counter() - start - ingest_s, 1), "published": result.published,
            "version": result.version, "sleep_in": tokens_in, "sleep_out": tokens_out,
            "learned": result.learned, "questions": result.questions}


def _shard_dir(out: Path, shard: tuple[int, int]) -> Path:
    """Where a shard's records and texts go: the run's folder, or `shards/<i>-of-<n>/` in it."""
    return out if shard == (1, 1) else out / "shards" / f"{shard[0]}-of-{shard[1]}"


def _all_records(out: Path) -> list[dict[str, Any]]:
    """Every record of the run, whichever shard wrote it."""
    paths = [out / "records.jsonl", *sorted(out.glob("shards/*/records.jsonl"))]
    return [r for p in paths for r in _jsonl(p)]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time (shards share the store): the first sleeps a snapshot, the others wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _in_store(app: Any, context_id: str, folder: Path, include: list[str]) -> tuple[bool, Any]:
    """(whether the store's current revision is this folder, the latest version if built from it)."""
    from sleeptime.errors import UnknownContextError
    from sleeptime.experimental import load_context

    store = app.learned_store()
    try:
        current = store.context(context_id).revision
    except UnknownContextError:
        return False, None
    cfg = app.config
    loaded = load_context(folder=folder, include=include, chunk_size=cfg.chunk_size, chunk_overlap=cfg.chunk_overlap)
    same = store.parts.digests(context_id, current) == [c.digest for c in loaded.chunks]
    latest = store.latest(context_id)
    return same, latest if same and latest is not None and latest.source_revision == current else None


def slept_on(app: Any, context_id: str, folder: Path, include: list[str]) -> Any:
    """The newest learned version built from exactly `folder`'s chunks (a later re-sleep on a changed
    file may be newer), else None."""
    from sleeptime.errors import UnknownContextError
    from sleeptime.experimental import load_context

    store = app.learned_store()
    cfg = app.config
    digests = [c.digest for c in load_context(folder=folder, include=include, chunk_size=cfg.chunk_size,
                                              chunk_overlap=cfg.chunk_overlap).chunks]
    try:
        numbers = sorted(store.versions(context_id), reverse=True)
    except UnknownContextError:
        return None
    for n in numbers:
        version = store.version(context_id, n)
        if version is not None and store.parts.digests(context_id, version.source_revision) == digests:
            return version
    return None


def _ensure_slept(app: Any, snap: str, context_id: str, folder: Path, include: list[str], out: Path,
                  slept: dict[str, dict[str, Any]], model: str, texts_path: Path) -> None:
    """Sleep on the snapshot unless the store already holds a version built from exactly it (an
    interrupted run, another shard): a full sleep is recorded once; a store left on the one-file
    change is brought back by a re-ingest and a re-sleep of the changed parts, not recorded."""
    same, learned = _in_store(app, context_id, folder, include)
    if learned is not None:
        if snap not in slept:  # slept, then stopped before recording: what it cost is in the store
            from sleeptime.experimental import summarize_usage

            usage = summarize_usage(learned.sleep_usage, "sleep")
            record = app.learned_store().context(context_id)
            slept[snap] = {"snapshot": snap, "model": model, "include": include, "revision": record.revision,
                           "chars": record.chars, "chunks": record.n_chunks, "files": len(record.sources),
                           "ingest_s": None, "sleep_s": None, "published": True, "version": learned.version,
                           "sleep_in": usage.input_tokens, "sleep_out": usage.output_tokens, "recovered": True}
            _append(out / "sleeps.jsonl", slept[snap])
        print(f"{snap}: learned version {learned.version} is in the store; not sleeping again", flush=True)
        return
    if same:  # the current revision is the snapshot: sleep on it without a new revision
        start = time.perf_counter()
        result = app.sleep(context_id)
        row = {"revision": app.learned_store().context(context_id).revision, "published": result.published,
               "version": result.version, "sleep_s": round(time.perf_counter() - start, 1),
               "learned": result.learned, "questions": result.questions}
        row["sleep_in"], row["sleep_out"] = _tokens(result.usage)
        record = app.learned_store().context(context_id)
        row |= {"chars": record.chars, "chunks": record.n_chunks, "files": len(record.sources), "ingest_s": 0.0}
    else:
        row = _sleep(app, context_id, folder, include)
    _append(texts_path, {"snapshot": snap, "kind": "sleep", "learned": row.pop("learned"),
                         "questions": row.pop("questions")})
    if snap in slept:
        print(f"{snap}: store brought back to the snapshot: {row['sleep_in']}+{row['sleep_out']} tokens", flush=True)
        return
    slept[snap] = {"snapshot": snap, "model": model, "include": include, **row}
    _append(out / "sleeps.jsonl", slept[snap])
    print(f"{snap}: slept {row['sleep_in']}+{row['sleep_out']} tokens in {row['sleep_s']} s", flush=True)


def _ask(args: argparse.Namespace, store_dir: Path, snap: str, context_id: str, task: dict[str, Any],
         known: list[str], budgets: list[int], done: set[tuple[str, str]], here: Path) -> None:
    for mode in args.arms.split(","):
        for budget in budgets:
            arm = f"{mode}@{budget}"
            if (task["id"], arm) in done:
                continue
            asker = _app(args.model, store_dir, budget, mode, args.parts,
                         sleep_model=getattr(args, "sleep_model", None), show_map=getattr(args, "show_map", False),
                         part_questions=getattr(args, "part_questions", 3))
            start = time.perf_counter()
            if mode in RANKED:
                files, sources, text = _ranked_answer(asker, context_id, task, RANKED[mode])
                tin = tout = 0
            elif mode in CHOSEN:
                files, sources, text, (tin, tout) = _chosen_answer(
                    asker, args.model, Path(args.data) / "snapshots" / snap, context_id, task, known, CHOSEN[mode])
            else:
                answer = asker.ask(question_of(task), context_id, mode="learned" if mode == "sleep" else "test-time")
                files, sources, text = predicted_files(answer.answer, known), answer.sources, answer.answer
                tin, tout = _tokens(answer.wake_usage)
            seconds = time.perf_counter() - start
            _append(here / "records.jsonl", {
                "id": task["id"], "snapshot": snap, "arm": arm, "mode": mode, "budget": budget,
                "gold": task["gold_files"], "predicted": files, "f1": round(f1(files, task["gold_files"]), 4),
                "wake_in": tin, "wake_out": tout, "seconds": round(seconds, 2),
                "n_sources": len(sources), "model": "none" if mode in RANKED else args.model, "parts": args.parts,
            })
            _append(here / "texts.jsonl", {"id": task["id"], "arm": arm, "answer": text, "sources": sources})
            done.add((task["id"], arm))
            print(f"{task['id']} {arm}: {files} gold {task['gold_files']}", flush=True)


def _ranked_answer(app: Any, context_id: str, task: dict[str, Any],
                   descriptions: bool) -> tuple[list[str], list[str], str]:
    """No model: the file of the best chunk the wake's hybrid search finds (with the sleep's part
    descriptions joining it when `descriptions`); (files named, sources ranked, the answer's text)."""
    from evals import recall
    from sleeptime.experimental import HYBRID

    revision = app.learned_store().context(context_id).revision
    ranked = list(dict.fromkeys(recall.ranked_sources(app, context_id, revision, question_of(task), HYBRID,
                                                      descriptions)))
    return ranked[:1], ranked, "\n".join(ranked[:1])


_PART_LEAD = re.compile(r"^\s*(?:\d+\.\s*)?Part \S+\s*")


@functools.cache
def _chooser(model: str) -> Any:
    """The `choose` arms' wake model, resolved once a run (a file path and a little room to spare)."""
    from sleeptime import resolve_chat_model

    return resolve_chat_model(model, max_tokens=24)


def _chosen_answer(app: Any, model: str, src: Path, context_id: str, task: dict[str, Any], known: list[str],
                   descriptions: bool) -> tuple[list[str], list[str], str, tuple[int, int]]:
    """The wake model picks one of the first `CANDIDATES` files of the hybrid search (with the sleep's
    descriptions joining it and shown per file when `descriptions`, else each file's part outline); a
    reply naming none of them answers the first. (files, sources ranked, reply, (tokens in, out))."""
    from sleeptime.experimental import HYBRID, part_outline, search_context

    parts = app.learned_store().parts
    revision = app.learned_store().context(context_id).revision
    pieces = search_context(parts, context_id, revision, question_of(task), 40, HYBRID, descriptions=descriptions)
    best: dict[str, int] = {}
    for p in pieces:
        best.setdefault(p.source, p.start_line)
    files = list(best)[:CANDIDATES]
    spans = parts.part_spans(context_id, revision)
    notes = parts.part_notes(context_id, [s[0] for s in spans]) if descriptions else {}
    cards = []
    for i, name in enumerate(files, 1):
        part = next((s for s in spans if s[1] == name and s[2] <= best[name] <= s[3]), None)
        if descriptions and part is not None and part[0] in notes:
            card = _PART_LEAD.sub("", notes[part[0]].split("\nQ:")[0])  # "Part click/x.py:1-75 is ..." -> "is ..."
        else:
            lines = (src / name).read_text(errors="replace").splitlines()
            lo, hi = (part[2], part[3]) if part is not None else (best[name], best[name] + 80)
            card = part_outline(name, "\n".join(lines[lo - 1:hi]))
        cards.append(f"{i}. {name}: {' '.join(card.split())[:CARD_CHARS]}")
    changelog = "".join(f"\n- {c}" for c in task.get("changelog") or [])
    prompt = CHOOSE_PROMPT.format(question=task["title"] + changelog, cards="\n".join(cards))
    if model == "scripted":  # a stand-in that overrules the search: it picks the last file shown
        reply, usage = files[-1] if files else "", (0, 0)
    else:
        message = _chooser(model).invoke(prompt)
        reply = str(message.content)
        meta = getattr(message, "usage_metadata", None) or {}
        usage = (int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0)))
    named = [f for f in predicted_files(reply, known) if f in files]
    return named[:1] or files[:1], list(best), f"{reply}\n\n{prompt}", usage


def _resleep(app: Any, snap: str, context_id: str, folder: Path, include: list[str], known: list[str],
             out: Path, slept: dict[str, dict[str, Any]]) -> None:
    """Change one file, re-ingest and re-sleep: what a one-file change costs."""
    changed = "click/exceptions.py" if "click/exceptions.py" in known else known[0]
    target = folder / changed
    target.write_text(target.read_text() + "\n\ndef _changed_for_the_experiment() -> None:\n    pass\n")
    row = _sleep(app, context_id, folder, include)
    _append(out / "texts.jsonl", {"snapshot": snap, "kind": "resleep", "learned": row.pop("learned"),
                                  "questions": row.pop("questions")})
    slept[snap] = {**slept[snap], "resleep_in": row["sleep_in"], "resleep_out": row["sleep_out"],
                   "resleep_s": row["sleep_s"], "resleep_changed": changed}
    _append(out / "sleeps.jsonl", slept[snap])
    print(f"{snap}: re-slept after a one-file change: {row['sleep_in']}+{row['sleep_out']} tokens", flush=True)


def run(args: argparse.Namespace) -> Path:
    """Run or resume the experiment (see `_run`), or with ``--summarize`` only write its summary, or
    with ``--retrieval`` only measure the retrieval recall (no chat model)."""
    if getattr(args, "summarize_only", False):
        return summarize(Path(args.out), load_tasks(Path(args.data)))
    if getattr(args, "retrieval_only", False):
        return retrieval_recall(args)
    return _run(args)


def retrieval_recall(args: argparse.Namespace) -> Path:
    """Model-free: ingest each snapshot (unless its store holds it), rank chunks for every task by each
    arm's search (`evals.recall`), and write `<out>/retrieval.jsonl` and `<out>/retrieval.md`."""
    from evals import recall

    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = load_tasks(data)
    rows: list[dict[str, Any]] = []
    for snap in args.snapshots or sorted({t["snapshot"] for t in tasks}):
        src = data / "snapshots" / snap
        include = args.include or ["*.py"]
        context_id = "swe-" + snap.replace(".", "_")
        snap_store = Path(args.store) / context_id
        with _locked(Path(args.store) / f"{context_id}.lock"):
            app = _app(args.model, snap_store, None)
            learned = slept_on(app, context_id, src, include)
            same, _ = _in_store(app, context_id, src, include)
            if not same and learned is None:
                app.ingest(context_id, folder=src, include=include)
            revision = learned.source_revision if learned is not None else app.learned_store().context(
                context_id).revision
            slept = bool(app.learned_store().parts.part_notes(
                context_id, [p[0] for p in app.learned_store().parts.part_spans(context_id, revision)]))
            todo = [t for t in tasks if t["snapshot"] == snap][: args.tasks or None]
            items = [(t["id"], question_of(t), t["gold_files"]) for t in todo]
            start = time.perf_counter()
            snap_rows = recall.measure(app, context_id, revision, items, slept,
                                      learned.text if learned is not None else "")
            print(f"{snap}: {len(items)} tasks, {time.perf_counter() - start:.1f} s", flush=True)
        rows += [{**r, "snapshot": snap} for r in snap_rows]
    (out / "retrieval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = recall.table(rows, "arm (all snapshots asked)")
    for snap in dict.fromkeys(r["snapshot"] for r in rows):
        lines += ["", *recall.table([r for r in rows if r["snapshot"] == snap], snap)]
    (out / "retrieval.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return out / "retrieval.md"


def _run(args: argparse.Namespace) -> Path:
    """Run (or resume) the experiment, or one shard of it; returns the summary's path.

    A shard (``--shard i/n``) asks every n-th task (from the i-th) and writes its records under
    `shards/<i>-of-<n>/`; shards may run at once, one per core: each starts at another snapshot, and
    the first to reach a snapshot sleeps on it while the others wait. Each snapshot has its own store
    folder, opened only under its lock: embedded Chroma loads a store's vector index once per process,
    so a process does not find vectors another process adds to a store it has open (checked: a
    search in the first process missed all 199 items a second one put, which a third, fresh process
    found). Re-sleeps after a one-file change write to the store, so they are left to a run with no
    shard, once the shards are done: it finds their records, asks nothing again, and re-sleeps."""
    data, out = Path(args.data), Path(args.out)
    shard = parse_shard(getattr(args, "shard", None))
    here = _shard_dir(out, shard)
    here.mkdir(parents=True, exist_ok=True)
    done = {(r["id"], r["arm"]) for r in _all_records(out)}
    tasks = load_tasks(data)
    snapshots = args.snapshots or sorted({t["snapshot"] for t in tasks})
    offset = (shard[0] - 1) % len(snapshots) if snapshots else 0
    budgets = [int(b) for b in args.budgets.split(",")]
    store_dir = Path(args.store)
    sleeper = getattr(args, "sleep_model", None)
    for snap in snapshots[offset:] + snapshots[:offset]:  # shards start at different snapshots
        src = data / "snapshots" / snap
        known = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.py"))
        include = args.include or ["*.py"]
        todo = [t for t in tasks if t["snapshot"] == snap]  # gold may name a file the change added
        if args.include:  # a reduced codebase: its files, and only the tasks whose files are all in it
            spec = pathspec.GitIgnoreSpec.from_lines(args.include)
            known = [k for k in known if spec.match_file(k)]
            todo = [t for t in todo if set(t["gold_files"]) <= set(known)]
        todo = todo[: args.tasks or None][shard[0] - 1 :: shard[1]]
        context_id = "swe-" + snap.replace(".", "_")
        work = Path(tempfile.mkdtemp(prefix=f"swe-{snap}-"))
        folder = work / "src"
        shutil.copytree(src, folder)
        try:
            snap_store = store_dir / context_id
            with _locked(store_dir / f"{context_id}.lock"):
                app = _app(args.model, snap_store, None, "sleep", args.parts,  # once another's sleep is done
                           sleep_model=sleeper, part_questions=getattr(args, "part_questions", 3))
                slept = {r["snapshot"]: r for r in _jsonl(out / "sleeps.jsonl")}
                if set(SLEPT) & set(args.arms.split(",")):
                    _ensure_slept(app, snap, context_id, folder, include, out, slept, sleeper or args.model,
                                  here / "texts.jsonl")
                elif not _in_store(app, context_id, folder, include)[0]:  # the baselines need no sleep
                    app.ingest(context_id, folder=folder, include=include)
            for task in todo:
                _ask(args, snap_store, snap, context_id, task, known, budgets, done, here)
            if args.resleep and shard == (1, 1) and snap in slept and "resleep_in" not in slept[snap]:
                with _locked(store_dir / f"{context_id}.lock"):
                    _resleep(app, snap, context_id, folder, include, known, out, slept)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return summarize(out, tasks)


def _sleep_share(sleep: dict[str, Any], queries: int) -> float:
    return float(sleep["sleep_in"] + sleep["sleep_out"]) / max(1, queries)


def _cost_unknown(sleep: dict[str, Any]) -> bool:
    """A sleep found in the store whose learned version cost nothing: it reused every part an earlier run
    described (a store brought back after a one-file change), so what the learned context cost is in the run
    that slept, not here; counting it as free would flatter the sleep arms."""
    return bool(sleep.get("recovered")) and sleep["sleep_in"] + sleep["sleep_out"] == 0


def _arm_key(arm: str) -> tuple[str, int]:
    mode, _, budget = arm.partition("@")
    return mode, int(budget)


def _paired(records: list[dict[str, Any]], budget: int, base: str = "rag",
            arm: str = "sleep") -> dict[str, Any] | None:
    """`arm`@B minus `base`@B on the tasks both answered: mean F1 difference, its paired bootstrap 95%
    interval, and the tasks each arm scored higher on."""
    by_arm = {m: {r["id"]: r["f1"] for r in records if r["arm"] == f"{m}@{budget}"} for m in (arm, base)}
    ids = sorted(by_arm[arm].keys() & by_arm[base].keys())
    if not ids or arm == base:
        return None
    diffs = [by_arm[arm][i] - by_arm[base][i] for i in ids]
    lo, hi = mean_interval(diffs)  # the paired bootstrap: resampling tasks resamples their differences
    return {"n": len(ids), "diff": statistics.fmean(diffs), "ci95": [lo, hi],
            "sleep_higher": sum(d > 0 for d in diffs), f"{base}_higher": sum(d < 0 for d in diffs)}


def plot_summary(summary: dict[str, Any], path: Path) -> None:
    """F1 vs wake tokens per query, a line per arm (budgets annotated), the no-model prior a point."""
    from evals.plots import plot_budget_lines

    rows = [{"mode": {"rag": "test-time"}.get(_arm_key(arm)[0], _arm_key(arm)[0]), "budget": _arm_key(arm)[1],
             "mean_output_tokens": a["wake_tokens"], "accuracy": a["f1"], "accuracy_lo": a["ci95"][0],
             "accuracy_hi": a["ci95"][1]} for arm, a in summary["arms"].items()]
    prior = summary.get("prior")
    points = [{"mode": "prior (no model)", "mean_output_tokens": 0, "accuracy": prior["f1"]}] if prior else []
    n = max(a["n"] for a in summary["arms"].values())
    plot_budget_lines(rows, path, f"SWE-Features on click: which files change ({n} tasks)", points,
                      ylabel="F1 over files")


def _mean_precision_recall(answers: Sequence[tuple[Sequence[str], Sequence[str]]]) -> tuple[float, float]:
    """Mean precision and mean recall over (predicted, gold) pairs: what F1 is built from, per task."""
    scores = [precision_recall(p, g) for p, g in answers]
    return statistics.fmean(s[0] for s in scores), statistics.fmean(s[1] for s in scores)


def summarize(out: Path, tasks: list[dict[str, Any]]) -> Path:
    records = _all_records(out)
    sleeps: dict[str, dict[str, Any]] = {}
    for row in _jsonl(out / "sleeps.jsonl"):
        sleeps[row["snapshot"]] = row  # the last row of a snapshot has everything
    queries = {s: sum(1 for r in {(r["id"], r["snapshot"]) for r in records} if r[1] == s) for s in sleeps}
    lines = ["| arm | tasks | F1 (95% CI) | precision | recall | sources shown | wake tokens/query (in+out) | "
             "+ sleep amortized/query | s/query |", "|---|---|---|---|---|---|---|---|---|"]
    summary: dict[str, Any] = {"arms": {}, "paired": {}, "snapshots": sleeps}
    asked = {r["id"] for r in records}
    if asked:  # the no-model floor, on the tasks the arms were asked
        prior = prior_files(tasks)
        pairs_asked = [(prior[t["id"]], t["gold_files"]) for t in tasks if t["id"] in asked]
        mean, lo, hi = bootstrap([f1(p, g) for p, g in pairs_asked])
        precision, recall = _mean_precision_recall(pairs_asked)
        summary["prior"] = {"n": len(pairs_asked), "f1": mean, "ci95": [lo, hi], "precision": precision,
                            "recall": recall}
        lines.append(f"| prior (no model: the file the other tasks changed most) | {len(pairs_asked)} | "
                     f"{mean:.3f} ({lo:.3f}-{hi:.3f}) | {precision:.3f} | {recall:.3f} | 0 | 0 | 0 | 0 |")
    arms = sorted({r["arm"] for r in records}, key=_arm_key)
    for arm in arms:
        rows = [r for r in records if r["arm"] == arm]
        mean, lo, hi = bootstrap([r["f1"] for r in rows])
        wake = statistics.fmean(r["wake_in"] + r["wake_out"] for r in rows)
        amortized: float | None = 0.0
        if _arm_key(arm)[0] in SLEPT:  # each snapshot's sleep shared by the real queries asked of it
            slept_for = [sleeps[s] for s in (r["snapshot"] for r in rows) if s in sleeps]  # one per query
            if any(map(_cost_unknown, slept_for)):
                amortized = None
            elif slept_for:
                amortized = statistics.fmean(_sleep_share(s, queries[s["snapshot"]]) for s in slept_for)
        secs = statistics.fmean(r["seconds"] for r in rows)
        # Why an arm scores as it does: what it names, what it finds, and how many sources its budget showed.
        precision, recall = _mean_precision_recall([(r["predicted"], r["gold"]) for r in rows])
        sources = statistics.fmean(r["n_sources"] for r in rows)
        summary["arms"][arm] = {"n": len(rows), "f1": mean, "ci95": [lo, hi], "precision": precision,
                                "recall": recall, "sources": sources, "wake_tokens": wake,
                                "sleep_amortized_tokens": amortized, "seconds": secs}
        total = "n/a (reused sleep)" if amortized is None else f"{wake + amortized:.0f}"
        lines.append(f"| {arm} | {len(rows)} | {mean:.3f} ({lo:.3f}-{hi:.3f}) | {precision:.3f} | {recall:.3f} | "
                     f"{sources:.1f} | {wake:.0f} | {total} | {secs:.1f} |")
    budgets = sorted({_arm_key(a)[1] for a in arms})
    for mine, base in (("sleep", "rag"), ("sleep", "rag-hybrid"), ("sleep", "rank"), ("sleep-rank", "rank"),
                       ("sleep-rank", "rag-hybrid"), ("sleep-choose", "choose"), ("sleep-choose", "rank"),
                       ("choose", "rank")):
        pairs = {b: d for b in budgets if (d := _paired(records, b, base, mine)) is not None}
        if pairs:
            lines += ["", f"| budget | tasks | F1 {mine} - {base} (paired 95% CI) | {mine} higher | {base} higher |",
                      "|---|---|---|---|---|"]
            for b, d in pairs.items():
                key = str(b) if base == "rag" else f"{b} vs {base}"
                summary["paired"][key if mine == "sleep" else f"{mine} {key}"] = d
                lines.append(f"| {b} | {d['n']} | {d['diff']:+.3f} ({d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f}) | "
                             f"{d['sleep_higher']} | {d[base + '_higher']} |")
    lines += ["", "| snapshot | model | files | chars | sleep tokens (in+out) | sleep s | re-sleep tokens, one file | "
              "re-sleep s | queries here |", "|---|---|---|---|---|---|---|---|---|"]
    for snap, s in sorted(sleeps.items()):
        resleep = f"{s['resleep_in']}+{s['resleep_out']}" if "resleep_in" in s else "-"
        cost = "reused (cost in the run that slept)" if _cost_unknown(s) else f"{s['sleep_in']}+{s['sleep_out']}"
        lines.append(f"| {snap} | {s['model']} | {s['files']} | {s['chars']} | {cost} | "
                     f"{'-' if s['sleep_s'] is None else s['sleep_s']} |"
                     f" {resleep} | {s.get('resleep_s', '-')} | {queries.get(snap, 0)} "
                     f"(of {sum(1 for t in tasks if t['snapshot'] == snap)}) |")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    if summary["arms"]:
        plot_summary(summary, out / "swe.png")
    print("\n".join(lines))
    return out / "summary.md"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the swe-click folder (default: %(default)s)")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--store", default=str(ROOT / ".sleeptime" / "swe"),
                   help="folder of the stores, one per snapshot (default git-ignored: %(default)s)")
    p.add_argument("--model", default="embedded:qwen2.5-coder-0.5b", help="model spec, or 'scripted'")
    p.add_argument("--sleep-model", default=None,
                   help="model spec that sleeps, when not --model (strong sleep, cheap wake)")
    p.add_argument("--snapshots", nargs="*", default=None, help="snapshot names (default: all three)")
    p.add_argument("--tasks", type=int, default=0, help="first N tasks per snapshot (0: all)")
    p.add_argument("--include", nargs="*", default=None,
                   help="globs narrowing each snapshot to a reduced codebase (tasks outside it are left out)")
    p.add_argument("--arms", default="rag,sleep",
                   help=f"arms, comma-separated, of {', '.join(ARMS)} (default: %(default)s)")
    p.add_argument("--parts", default="notes", choices=["notes", "describe", "outline"],
                   help="what sleep writes per part: notes reduced to notes on the whole, or descriptions and "
                        "questions that steer retrieval and a map of the files, read from each part's whole text "
                        "(describe) or its outline (default: %(default)s)")
    p.add_argument("--part-questions", type=int, default=3,
                   help="describe/outline: questions or change requests written per part (default: %(default)s)")
    p.add_argument("--map", dest="show_map", action="store_true",
                   help="describe/outline: the map leads the wake prompt (default: off, its share goes to evidence; "
                        "--no-map is accepted for the runs that named it)")
    p.add_argument("--no-map", dest="show_map", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--budgets", default="1500,3000", help="wake context token budgets, comma-separated")
    p.add_argument("--summarize", dest="summarize_only", action="store_true",
                   help="only write the summary (and swe.png) from the records so far; no model")
    p.add_argument("--retrieval", dest="retrieval_only", action="store_true",
                   help="only measure retrieval recall@k of gold files per arm (ingests, no chat model)")
    p.add_argument("--no-resleep", dest="resleep", action="store_false", help="skip the one-file re-sleep")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="ask every N-th task from the I-th, recording under shards/I-of-N/ (one per core, one "
                        "store); finish with a run without --shard, which re-sleeps and summarizes all shards")


def run_cli(args: argparse.Namespace, argv: Sequence[str] = ()) -> str:
    """``python -m evals swe ...``: run (or resume), write the summary; where it is."""
    return str(run(args))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals swe", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    run_cli(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
