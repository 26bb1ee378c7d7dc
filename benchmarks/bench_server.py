"""First-token latency over a real OpenAI-compatible server: sleep-time with a warmed prefix vs test-time only.

The server is llama-cpp-python's own (`python -m llama_cpp.server`, the 0.5B, one thread, `--cache true`
so prompt states are kept in RAM), started here on 127.0.0.1 unless ``--base-url`` names one.
The five project-written contexts of bench_wake.py (hand-written notes of a sleep run's length,
published straight into an in-memory store with hash embeddings: the sleep phase is not run), the
first ``--per-context`` questions of each. Per context, in this order:

1. test-time only: each question with ``mode='test-time'`` (the raw context; no warm-up: the first
   question's prompt is cold, later ones may reuse the server's cache of the same raw prefix);
2. ``warm_published`` with ``warm_prefix='on'``: one one-token call reading the learned wake prefix,
   as a publish does;
3. sleep-time: each question with ``mode='learned'``.

Per ask: time to the first answer token (``stream_mode='messages'``) and to the end; p50 per mode,
over all asks and over each context's first question. ``verify='off'``, ``budget=0``.

Run: ``nice -n 5 taskset -c 1 .venv/bin/python benchmarks/bench_server.py --out /tmp/server.json``
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_wake import ask_streaming, publish_all
from wake_contexts import CONTEXTS

from sleeptime import SleepTimeConfig, build_wake_graph
from sleeptime.experimental import INDEXED_FIELDS, ensure_gguf, warm_published


@contextmanager
def server(model: str, n_ctx: int) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(ensure_gguf(model, progress=False)),
         "--model_alias", "qwen", "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1",
         "--n_threads_batch", "1", "--n_ctx", str(n_ctx), "--cache", "true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(480):
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                time.sleep(0.25)  # polling a starting server
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def p50_ms(xs: list[float]) -> float:
    return round(statistics.median(xs) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", help="a running server's /v1 URL (default: start llama_cpp.server)")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--per-context", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from langgraph.store.memory import InMemoryStore

    from sleeptime.testing import HashEmbeddings

    with (server(args.model, args.n_ctx) if args.base_url is None else _given(args.base_url)) as url:
        cfg = SleepTimeConfig(wake_model="openai:qwen", base_url=url, budget=0, verify="off",
                              max_tokens_wake=args.max_tokens, warm_prefix="on", context_window=args.n_ctx)
        store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": INDEXED_FIELDS})
        graph = build_wake_graph().compile(store=store)
        learned = publish_all(store, cfg.tenant)
        runs: list[dict[str, Any]] = []
        for name, c in CONTEXTS.items():
            questions = c["questions"][: args.per_context]
            for i, q in enumerate(questions):
                r = ask_streaming(graph, {"question": q, "context_id": name, "mode": "test-time"}, cfg)
                runs.append({"context": name, "question_index": i, "mode": "test-time", **r})
            t0 = time.perf_counter()
            warm = warm_published(cfg, learned, name, 1)
            warm_s = time.perf_counter() - t0
            for i, q in enumerate(questions):
                r = ask_streaming(graph, {"question": q, "context_id": name, "mode": "learned"}, cfg)
                runs.append({"context": name, "question_index": i, "mode": "sleep-time-warm", "warm_s": warm_s,
                             "warm_input_tokens": sum(w["input_tokens"] for w in warm), **r})
            for r in runs[-2 * len(questions):]:
                print(f"{name:10s} q{r['question_index']} {r['mode']:16s} first {r['first_token_s']:6.2f}s "
                      f"total {r['total_s']:6.2f}s in {r['input_tokens']} out {r['output_tokens']}", flush=True)
    summary = {}
    for mode in ("test-time", "sleep-time-warm"):
        mine = [r for r in runs if r["mode"] == mode]
        summary[mode] = {
            "asks": len(mine),
            "first_token_p50_ms": p50_ms([r["first_token_s"] for r in mine]),
            "first_question_first_token_p50_ms": p50_ms([r["first_token_s"] for r in mine
                                                         if r["question_index"] == 0]),
            "total_p50_ms": p50_ms([r["total_s"] for r in mine]),
            "input_tokens_p50": statistics.median(r["input_tokens"] for r in mine),
            "cached_tokens_reported": sum(r["cached_tokens"] for r in mine),
        }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"model": args.model, "n_ctx": args.n_ctx, "n_threads": 1,
                                        "summary": summary, "runs": runs}, indent=1))


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    main()
