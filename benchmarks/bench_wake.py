"""Wake latency: does sleeping make the answer come sooner?

Two parts, each its own process (figures in benchmarks/README.md):

``--part model`` (the embedded model; pin it: ``taskset -c 0``, llama.cpp then uses 1 thread):
five project-written contexts (benchmarks/wake_contexts.py, hand-written notes of a sleep run's
length, published straight into an in-memory store with hash embeddings, so the sleep phase is
not run), six questions each. Every question is asked three ways through the wake graph, each
from an empty llama.cpp context: test-time only (raw context), sleep-time cold (learned context,
full prefill), sleep-time with the state the publish hook saved. Per ask: time to the first
answer token and to the end (``stream_mode="messages"``), prompt and cached tokens. Also per
context: the time to precompute and the state's size, its load time from disk; the cache's memory.

``--part overhead`` (no model time): the wake with a scripted model on an embedded Chroma store
holding ``--entries`` other entries (precomputed random embeddings, as bench_store.py), p50/p99 of
``SleepTime.ask``, and of a verified predicted answer (``serve_predicted``, no generation).

Run: ``taskset -c 0 .venv/bin/python benchmarks/bench_wake.py --part model --out /tmp/wake-model.json``
and ``.venv/bin/python benchmarks/bench_wake.py --part overhead --entries 100000 --out /tmp/wake-overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from wake_contexts import CONTEXTS

from sleeptime import LearnedContextStore, SleepTimeConfig, build_wake_graph
from sleeptime.experimental import INDEXED_FIELDS


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), in milliseconds."""
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] * 1000


def publish_all(store: Any, tenant: str) -> LearnedContextStore:
    ls = LearnedContextStore(store, tenant)
    for name, c in CONTEXTS.items():
        rec = ls.put_chunks(name, [c["raw"]], ["bench"])
        ls.publish(name, samples=[c["notes"]], questions=c["predicted"], source_revision=rec.revision)
    return ls


# -- part 1: the embedded model ---------------------------------------------------------------------
def ask_streaming(graph: Any, inp: dict[str, Any], cfg: SleepTimeConfig) -> dict[str, Any]:
    """One streamed wake: first-token and total seconds, the answer step's tokens (bench_server.py uses it too)."""
    t0 = time.perf_counter()
    first: float | None = None
    final: dict[str, Any] = {}
    for mode, payload in graph.stream(inp, context=cfg, stream_mode=["messages", "values"]):
        if mode == "messages":
            chunk, meta = payload
            if first is None and meta.get("langgraph_node") == "answer" and chunk.content:
                first = time.perf_counter() - t0
        else:
            final = payload
    total = time.perf_counter() - t0
    answer_usage = [u for u in final.get("usage", []) if u["node"] == "answer"]
    return {
        "first_token_s": first if first is not None else total,
        "total_s": total,
        "answer": final.get("answer", ""),
        "input_tokens": sum(u["input_tokens"] for u in answer_usage),
        "cached_tokens": sum(u.get("cache_read_tokens", 0) for u in answer_usage),
        "output_tokens": sum(u["output_tokens"] for u in answer_usage),
        "path": final.get("path"),
    }


def model_part(args: argparse.Namespace) -> dict[str, Any]:
    from langgraph.store.memory import InMemoryStore

    from sleeptime.experimental import kv_state, wake_model, warm_published
    from sleeptime.local.prefix_cache import PrefixKey, configure_prefix_cache
    from sleeptime.testing import HashEmbeddings

    tmp = Path(tempfile.mkdtemp(prefix="bench-wake-"))
    cache = configure_prefix_cache(tmp / "states")
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": INDEXED_FIELDS})
    cfg = SleepTimeConfig(wake_model=f"embedded:{args.model}", budget=0, verify="off",
                          max_tokens_wake=args.max_tokens, top_questions=args.top_questions)
    cold_cfg = replace(cfg, warm_prefix="off")
    model: Any = wake_model(cfg)
    loaded = model._loaded()
    llama = loaded.llama
    graph = build_wake_graph().compile(store=store)
    ls = publish_all(store, cfg.tenant)

    contexts: dict[str, Any] = {}
    for name in CONTEXTS:
        t0 = time.perf_counter()
        (record,) = warm_published(cfg, ls, name, 1)
        precompute_s = time.perf_counter() - t0
        entry = cache.get(PrefixKey(cfg.tenant, name, 1), model.model_path, model.n_ctx)
        assert entry is not None, f"no state saved for {name}"
        contexts[name] = {"precompute_s": precompute_s, "prefix_tokens": record["input_tokens"],
                          "state_bytes": len(entry.state)}
    for name in CONTEXTS:  # load from disk: read + checks, then into llama.cpp
        cache.forget_memory()
        t0 = time.perf_counter()
        entry = cache.get(PrefixKey(cfg.tenant, name, 1), model.model_path, model.n_ctx)
        t1 = time.perf_counter()
        assert entry is not None
        with loaded.use():
            assert kv_state.restore(llama, entry)
        contexts[name].update(disk_read_s=t1 - t0, restore_s=time.perf_counter() - t1)
    for name in CONTEXTS:  # all in memory again, as a serving process would hold them
        cache.get(PrefixKey(cfg.tenant, name, 1), model.model_path, model.n_ctx)

    runs: list[dict[str, Any]] = []
    questions = [(name, q) for name, c in CONTEXTS.items() for q in c["questions"]][: args.questions]
    for i, (name, question) in enumerate(questions):
        for mode, run_cfg, wake_mode in (("test-time", cfg, "test-time"), ("sleep-cold", cold_cfg, "sleep"),
                                         ("sleep-precomputed", cfg, "sleep")):
            if mode not in args.modes:
                continue
            llama.reset()  # every ask starts from an empty context
            r = ask_streaming(graph, {"question": question, "context_id": name, "mode": wake_mode}, run_cfg)
            runs.append({"context": name, "question": question, "mode": mode, **r})
            print(f"[{i + 1}/{len(questions)}] {mode:18s} first {r['first_token_s']:6.2f}s total "
                  f"{r['total_s']:6.2f}s in {r['input_tokens']} cached {r['cached_tokens']}", flush=True)
    return {
        "model": args.model,
        "n_threads": model.n_threads,
        "n_ctx": model.n_ctx,
        "contexts": contexts,
        "cache_memory_bytes": cache.memory_bytes,
        "cache_disk_bytes": cache.disk_bytes(),
        "runs": runs,
    }


def summarize_model(result: dict[str, Any]) -> str:
    lines = ["| mode | n | first token p50 s | p90 s | total p50 s | p90 s | prompt tokens (mean) | "
             "cached (mean) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for r in result["runs"]:
        by_mode.setdefault(r["mode"], []).append(r)
    for mode, rs in by_mode.items():
        f = [r["first_token_s"] for r in rs]
        t = [r["total_s"] for r in rs]
        lines.append(
            f"| {mode} | {len(rs)} | {pct(f, 50) / 1000:.2f} | {pct(f, 90) / 1000:.2f} | {pct(t, 50) / 1000:.2f} | "
            f"{pct(t, 90) / 1000:.2f} | {statistics.mean(r['input_tokens'] for r in rs):.0f} | "
            f"{statistics.mean(r['cached_tokens'] for r in rs):.0f} |"
        )
    cold = {r["question"]: r["answer"] for r in by_mode.get("sleep-cold", [])}
    warm = {r["question"]: r["answer"] for r in by_mode.get("sleep-precomputed", [])}
    same = sum(cold[q] == warm.get(q) for q in cold)
    lines.append(f"\nSame answer, cold vs precomputed (greedy): {same}/{len(cold)}")
    lines.append("\n| context | prefix tokens | state MB | precompute s | disk read ms | restore ms |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name, c in result["contexts"].items():
        lines.append(f"| {name} | {c['prefix_tokens']} | {c['state_bytes'] / 2**20:.2f} | {c['precompute_s']:.1f} | "
                     f"{c['disk_read_s'] * 1000:.1f} | {c['restore_s'] * 1000:.1f} |")
    lines.append(f"\nCache: {result['cache_memory_bytes'] / 2**20:.1f} MB in memory, "
                 f"{result['cache_disk_bytes'] / 2**20:.1f} MB on disk")
    return "\n".join(lines)


# -- part 2: framework overhead -----------------------------------------------------------------------
def overhead_part(args: argparse.Namespace) -> dict[str, Any]:
    from bench_store import DIMS, Precomputed
    from langgraph.store.base import PutOp

    from sleeptime import ChromaStore, SleepTime
    from sleeptime.testing import ScriptedChatModel

    tmp = tempfile.mkdtemp(prefix="bench-wake-store-")
    emb = Precomputed()
    store = ChromaStore(path=tmp, index={"dims": DIMS, "embed": emb, "fields": INDEXED_FIELDS})  # type: ignore[typeddict-item]
    t0 = time.perf_counter()
    chunk = 5000
    for start in range(0, args.entries, chunk):
        texts = [f"filler chunk {i}" for i in range(start, min(args.entries, start + chunk))]
        emb.embed_documents(texts)  # embedding time excluded
        store.batch([PutOp(("sleeptime", f"filler{i % 10}", "chunks", f"c{i // 100}", "r1"), f"{i:06d}",
                           {"text": t, "index": i}) for i, t in enumerate(texts, start=start)])
    load_s = time.perf_counter() - t0
    wake = ScriptedChatModel(default="Step: 14 x 9 = 126. The answer is 126.")
    app = SleepTime(store=store, sleep_model=wake, wake_model=wake, tenant="bench")
    publish_all(store, "bench")
    questions = [(name, q) for name, c in CONTEXTS.items() for q in c["questions"]]
    for name, q in questions:  # warm-up: imports, caches
        app.ask(q, name)
    ask_s: list[float] = []
    for i in range(args.samples):
        name, q = questions[i % len(questions)]
        t = time.perf_counter()
        out = app.ask(q, name)
        ask_s.append(time.perf_counter() - t)
        assert out.route == "learned"
    served_s: list[float] = []
    calls = len(wake.calls)
    predicted = [(name, qa["question"]) for name, c in CONTEXTS.items() for qa in c["predicted"]]
    for i in range(args.samples):
        name, q = predicted[i % len(predicted)]
        t = time.perf_counter()
        out = app.ask(q, name, serve_predicted=True)
        served_s.append(time.perf_counter() - t)
        assert out.route == "predicted", out.predicted_match
    assert len(wake.calls) == calls, "a served predicted answer makes no model call"
    return {"entries": args.entries, "load_s": load_s, "ask_s": ask_s, "served_s": served_s}


def summarize_overhead(result: dict[str, Any]) -> str:
    a, s = result["ask_s"], result["served_s"]
    return (
        f"Store: {result['entries']:,} other entries (loaded in {result['load_s']:.0f} s)\n\n"
        "| wake | n | p50 ms | p99 ms |\n|---|---:|---:|---:|\n"
        f"| ask, scripted model (framework overhead) | {len(a)} | {pct(a, 50):.1f} | {pct(a, 99):.1f} |\n"
        f"| verified predicted answer (no generation) | {len(s)} | {pct(s, 50):.1f} | {pct(s, 99):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["model", "overhead"], required=True)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="embedded model name (part model)")
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--top-questions", type=int, default=3, help="expected questions shown (of 3 predicted)")
    all_modes = ["test-time", "sleep-cold", "sleep-precomputed"]
    parser.add_argument("--modes", type=lambda s: s.split(","), default=all_modes,
                        help="comma-separated subset of test-time,sleep-cold,sleep-precomputed")
    parser.add_argument("--entries", type=int, default=100_000, help="other store entries (part overhead)")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the raw figures")
    args = parser.parse_args()
    if args.part == "model":
        if len(os.sched_getaffinity(0)) != 1:
            print("warning: not pinned to one core; run under `taskset -c 0`", flush=True)
        result = model_part(args)
        table = summarize_model(result)
    else:
        result = overhead_part(args)
        table = summarize_overhead(result)
    args.out.write_text(json.dumps(result, indent=1))
    print(table)


if __name__ == "__main__":
    main()
