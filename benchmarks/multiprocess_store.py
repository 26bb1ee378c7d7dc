"""Several processes on one on-disk store: writers publish, long-lived readers ask, nothing fails.

Run with (from the repository root):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/multiprocess_store.py --writers 3 --readers 2 --seconds 60

Every process opens its own `SleepTime` on one on-disk Chroma path (scripted model, 64-d hash
embeddings: no model runs). Each writer loops: ingest new text into its own context and sleep on
it, then sleep on the context every writer shares (a claim race). Each reader, opened once before the
writers start, loops `ask` on every context. At the end the harness checks each context's version
chain: the numbers the writers were given are distinct, with no gap below the head, every kept
version is whole (notes, questions, the raw revision it names), and vector search (in a fresh
process) finds each of its predicted questions. Prints one JSON object; exits 1 when
an ask failed or a version is duplicated, missing or dangling.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sleeptime import SleepTime
from sleeptime.testing import HashEmbeddings, scripted_model

SHARED = "shared"


def _app(path: str) -> SleepTime:
    model = scripted_model()
    return SleepTime(path=path, embeddings=HashEmbeddings(64), sleep_model=model, wake_model=model,
                     max_rounds=1, n_questions=2)


def _writer(path: str, name: str, until: float, out: Any) -> None:
    got: list[tuple[str, int]] = []
    errors: Counter[str] = Counter()
    stale = 0
    with _app(path) as app:
        i = 0
        while time.time() < until:
            i += 1
            for cid, text in ((name, f"{name} round {i}: pens cost ${i} each. Alice buys 3 pens."),
                              (SHARED, None)):
                try:
                    result = app.sleep(cid, text) if text else app.sleep(cid)
                    if result.version is not None:
                        got.append((cid, result.version))
                    else:
                        stale += 1
                except Exception as error:  # counted, not hidden
                    errors[f"{type(error).__name__}: {str(error)[:120]}"] += 1
    out.put({"role": "writer", "name": name, "versions": got, "stale": stale, "errors": dict(errors)})


def _reader(path: str, name: str, contexts: list[str], start: float, until: float, out: Any) -> None:
    asks, errors = 0, Counter[str]()
    seen: dict[str, int] = {}
    with _app(path) as app:  # opened before the writers start, kept for the whole run
        while time.time() < start:
            time.sleep(0.01)
        while time.time() < until:
            for cid in contexts:
                asks += 1
                try:
                    answer = app.ask("How much does Alice spend?", cid)
                    seen[cid] = max(seen.get(cid, 0), answer.version or 0)
                except Exception as error:
                    errors[f"{type(error).__name__}: {str(error)[:120]}"] += 1
    out.put({"role": "reader", "name": name, "asks": asks, "errors": dict(errors), "newest_seen": seen})


def _check(path: str, contexts: list[str], given: dict[str, list[int]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    with _app(path) as app:
        store = app.learned_store()
        for cid in contexts:
            numbers = given.get(cid, [])
            head = store.head(cid)
            top = int(head["version"]) if head else 0
            kept = store.versions(cid)
            dangling = [v for v in kept if not _whole(store, cid, v)]
            unsearchable = [v for v in kept if not _searchable(store, cid, v)]
            report[cid] = {
                "published": len(numbers), "head": top, "unsearchable": unsearchable,
                "duplicates": sorted(v for v, n in Counter(numbers).items() if n > 1),
                "missing": sorted(set(range(1, top + 1)) - set(numbers)),
                "kept": kept, "dangling": dangling,
                "latest_ok": (store.latest(cid) is not None) == (top > 0),
            }
    return report


def _searchable(store: Any, cid: str, version: int) -> bool:
    """Every predicted question of the version is found by vector search for its own text."""
    questions = store.questions(cid, version)
    for qa in questions:
        hits = store.scored_questions(cid, version, qa["question"], len(questions))
        if not any(h["question"] == qa["question"] and score is not None for h, score in hits):
            return False
    return True


def _whole(store: Any, cid: str, version: int) -> bool:
    learned = store.version(cid, version)
    if learned is None or not learned.samples:
        return False
    return bool(store.questions(cid, learned)) and bool(store.source_text(learned))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--path", default=None, help="store folder (default: a fresh temporary one)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.path or str(Path(tmp.name) / "store")
    names = [f"w{i}" for i in range(args.writers)]
    contexts = [SHARED, *names]
    with _app(path) as app:  # every context exists and is slept on once before the readers open
        for cid in contexts:
            app.sleep(cid, f"{cid}: pens cost $2 each. Alice buys 3 pens.")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 8.0  # readers open their stores first
    until = start + args.seconds
    procs = [ctx.Process(target=_reader, args=(path, f"r{i}", contexts, start, until, out))
             for i in range(args.readers)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start - time.time()))
    writers = [ctx.Process(target=_writer, args=(path, n, until, out)) for n in names]
    for p in writers:
        p.start()
    results = [out.get(timeout=args.seconds + 300) for _ in procs + writers]
    for p in procs + writers:
        p.join()
    given: dict[str, list[int]] = {cid: [1] for cid in contexts}  # version 1 of each: the set-up above
    for r in results:
        for cid, v in r.get("versions", []):
            given[cid].append(v)
    chains = _check(path, contexts, given)
    readers = [r for r in results if r["role"] == "reader"]
    writers_out = [r for r in results if r["role"] == "writer"]
    report = {
        "writers": args.writers, "readers": args.readers, "seconds": args.seconds,
        "asks": sum(r["asks"] for r in readers),
        "failed_asks": sum(sum(r["errors"].values()) for r in readers),
        "ask_errors": [r["errors"] for r in readers if r["errors"]],
        "newest_seen_by_readers": [r["newest_seen"] for r in readers],
        "publishes": sum(len(r["versions"]) for r in writers_out),
        "stale_sleeps": sum(r["stale"] for r in writers_out),
        "writer_errors": [r["errors"] for r in writers_out if r["errors"]],
        "duplicate_versions": sum(len(c["duplicates"]) for c in chains.values()),
        "missing_versions": sum(len(c["missing"]) for c in chains.values()),
        "dangling_versions": sum(len(c["dangling"]) for c in chains.values()),
        "unsearchable_versions": sum(len(c["unsearchable"]) for c in chains.values()),
        "chains": chains,
    }
    print(json.dumps(report))
    tmp.cleanup()
    bad = report["failed_asks"] or report["duplicate_versions"] or report["missing_versions"]
    sys.exit(1 if bad or report["dangling_versions"] else 0)


if __name__ == "__main__":
    main()
