"""Crash harness: SIGKILL a publish/ingest loop at random points; every reopened head must be whole.

Run with (from the repository root):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/crash_store.py --backend disk --kills 100
    PYTHONPATH=$PWD .venv/bin/python benchmarks/crash_store.py --backend server --kills 100

A worker process opens a `ChromaStore` (on disk, or on a `chroma run` server this script starts on
127.0.0.1) and loops: ingest a new raw revision of one context (1-12 chunks) or publish a learned
version (1-12 predicted questions) from the current revision, every item tagged with its write.
The harness kills it with SIGKILL at a random moment (0-1.5 s after it is ready); the next worker,
a fresh process, reopens the store and first checks that:

* the head version is whole and single: its notes, every one of its questions (read and searched)
  and the raw text it was built from come from one write each, with the count that write declared;
* the current raw revision is whole and single in the same way;
* version and revision numbers have no gaps.

At the end it runs `collect` (grace 0: no writer is left) and counts what stayed: the kept versions'
question sets, plus those of writers killed between sealing their attempt and claiming a number
(collect keeps them by design until the chain passes their bound). Prints one JSON object of figures.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = "c"
TENANT = "crash"


def open_store(target: str) -> Any:
    from sleeptime.stores import ChromaStore
    from sleeptime.testing import HashEmbeddings

    index: Any = {"embed": HashEmbeddings(32), "fields": ["question"]}
    if target.startswith("http"):
        return ChromaStore(url=target, collection="crash", index=index, retries=1, backoff_s=0.05)
    return ChromaStore(path=target, collection="crash", index=index)


def worker(target: str, seed: int) -> None:
    from sleeptime.errors import StaleVersionError, UnknownContextError
    from sleeptime.experimental import PredictedQuestion
    from sleeptime.stores import LearnedContextStore

    # The check runs here, in a fresh process: a process that kept a client open on the path
    # would read through Chroma's in-process caches, not what a reopen finds on disk.
    problems = check(target)
    head = LearnedContextStore(open_store(target), TENANT).head(CONTEXT)
    print(json.dumps({"problems": problems, "head": int(head["version"]) if head else 0}), flush=True)
    if seed < 0:
        return
    rng = random.Random(seed)
    lc = LearnedContextStore(open_store(target), TENANT)
    run = uuid.uuid4().hex[:8]
    print("ready", flush=True)
    k = 0
    while True:
        k += 1
        tag, n = f"{run}/{k}", rng.randint(1, 12)
        try:
            revision = lc.context(CONTEXT).revision
        except UnknownContextError:
            revision = 0
        if revision == 0 or rng.random() < 0.35:
            lc.put_chunks(CONTEXT, [f"{tag} chunk {i} of {n}" for i in range(n)], ["<crash>"])
            continue
        questions = [PredictedQuestion(question=f"{tag} question {i} of {n}", answer=tag) for i in range(n)]
        with contextlib.suppress(StaleVersionError):
            lc.publish(CONTEXT, samples=[f"{tag} notes"], questions=questions, source_revision=revision)


def _single(lines: list[str], what: str) -> str | None:
    """The one write tag of `lines` ("<tag> <kind> <i> of <n>"), or a description of what is wrong."""
    tags = {line.split(" ")[0] for line in lines}
    if len(tags) != 1:
        return f"{what}: mixed writes {sorted(tags)[:4]}"
    declared = {int(line.rsplit(" ", 1)[1]) for line in lines}
    if declared != {len(lines)}:
        return f"{what}: {len(lines)} read, {sorted(declared)} declared"
    return None


def check(target: str) -> list[str]:
    """Problems found in the store as a fresh handle sees it (empty: consistent)."""
    from sleeptime.stores import LearnedContextStore

    lc = LearnedContextStore(open_store(target), TENANT)
    problems: list[str] = []
    if CONTEXT not in lc.list_contexts() and lc.head(CONTEXT) is None:
        return problems
    record = lc.context(CONTEXT)
    if any(lc.raw.chain(CONTEXT).get(n) is None for n in range(max(1, record.revision - 3), record.revision + 1)):
        problems.append(f"a revision below {record.revision} is missing")
    raw = lc.raw_text(CONTEXT).split("\n")
    if (p := _single(raw, f"revision {record.revision}")) is not None or len(raw) != record.n_chunks:
        problems.append(p or f"revision {record.revision}: {len(raw)} chunks, record says {record.n_chunks}")
    learned = lc.latest(CONTEXT)
    if learned is None:
        return problems
    v = learned.version
    if any(lc.published.chain(CONTEXT).get(n) is None for n in range(max(1, v - 3), v + 1)):
        problems.append(f"a version below {v} is missing")
    tag = learned.samples[0].split(" ")[0]
    questions = [q["question"] for q in lc.questions(CONTEXT, learned)]
    if (p := _single(questions, f"head v{v} questions")) is not None:
        problems.append(p)
    elif questions[0].split(" ")[0] != tag:
        problems.append(f"head v{v}: notes from {tag}, questions from {questions[0].split(' ')[0]}")
    found = lc.scored_questions(CONTEXT, learned, "question 0", 5)
    if any(qa["answer"] != tag for qa, _ in found):
        problems.append(f"head v{v}: search returned questions of another write")
    source = lc.source_text(learned).split("\n")
    if (p := _single(source, f"head v{v} source revision {learned.source_revision}")) is not None:
        problems.append(p)
    return problems


def leftovers(target: str) -> dict[str, int]:
    from sleeptime.stores import LearnedContextStore

    store = open_store(target)
    lc = LearnedContextStore(store, TENANT)
    before = len(store.list_namespaces(prefix=("sleeptime", TENANT), limit=100_000))
    vectors = store.collect(grace_s=0)["vectors"]
    collected = lc.collect(grace_s=0)
    after = store.list_namespaces(prefix=("sleeptime", TENANT), limit=100_000)
    # A writer killed after sealing its attempt and before claiming a number leaves a set collect
    # must keep (it may still claim until the chain passes its bound): counted apart.
    claimed = {str(i.value.get("attempt")) for i in store.search(lc.layout.ns("versions", CONTEXT), limit=100_000)}
    sealed = {i.key for i in store.search(lc.layout.ns("fates", CONTEXT), limit=100_000)
              if i.value.get("fate") == "claiming" and i.key not in claimed}
    return {
        "namespaces_before_collect": before,
        "vectors_collected": vectors,
        "attempts_collected": collected["attempts"],
        "revisions_collected": collected["revisions"],
        "question_sets_left": sum(1 for ns in after if ns[2] == "questions"),
        "question_sets_sealed_unclaimed": sum(1 for ns in after if ns[2] == "questions" and ns[-1] in sealed),
        "chunk_sets_left": sum(1 for ns in after if ns[2] == "chunks"),
        "problems_after_collect": len(check(target)),
    }


def _spawn(target: str, seed: int, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", target, "--seed", str(seed), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    if not line.startswith("{"):
        proc.kill()
        raise RuntimeError(f"worker failed to check the store: {proc.stderr.read()[-3000:]}")
    report: dict[str, Any] = json.loads(line)
    return report


def run(target: str, kills: int, seed: int, max_wait_s: float = 1.5) -> dict[str, Any]:
    """Kill `kills` workers; each next worker (and a last one) checks the store it reopens."""
    rng = random.Random(seed)
    problems: list[str] = []
    versions: list[int] = []
    started = time.monotonic()
    for i in range(kills + 1):
        proc = _spawn(target, rng.randrange(2**31) if i < kills else -1)
        report = _report(proc)
        problems.extend(f"after kill {i}: {p}" for p in report["problems"])
        versions.append(int(report["head"]))
        assert proc.stdout is not None and proc.stderr is not None
        if i < kills:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"worker did not start: {proc.stderr.read()[-3000:]}")
            time.sleep(rng.uniform(0.0, max_wait_s))
            if proc.poll() is not None:
                raise RuntimeError(f"worker died by itself: {proc.stderr.read()[-3000:]}")
            proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        proc.stdout.close()
        proc.stderr.close()
    return {
        "kills": kills,
        "reopens_checked": kills + 1,
        "inconsistent_reopens": len(problems),
        "problems": problems[:10],
        "versions_published": versions[-1],
        "head_went_back": sum(1 for a, b in itertools.pairwise(versions) if b < a),
        "seconds": round(time.monotonic() - started, 1),
        **leftovers(target),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["disk", "server"], default="disk")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1, help="(a worker with a negative seed only checks)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seed)
        return
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="crash-store-") as tmp:
        if args.backend == "disk":
            figures = run(str(Path(tmp) / "db"), args.kills, args.seed)
        else:
            from tests.servers import ChromaServer

            server = ChromaServer(Path(tmp) / "server")
            server.start()
            try:
                figures = run(server.url, args.kills, args.seed)
            finally:
                server.stop()
    print(json.dumps({"backend": args.backend, "seed": args.seed, **figures}, indent=1))


if __name__ == "__main__":
    main()
