"""Store benchmark: put/search latency and throughput, InMemoryStore vs ChromaStore.

Run with: .venv/bin/python benchmarks/bench_store.py --sizes 1000,10000,100000

Each (backend, size) runs in its own subprocess so peak RSS is per configuration. Embeddings are
precomputed random unit vectors (384 dims) looked up by text, so embedding time is excluded.
Backends: `inmemory` (LangGraph InMemoryStore), `chroma-embedded` (ChromaStore(path=...)) and
`chroma-server` (ChromaStore(url=...) against a `chroma run` this script starts on 127.0.0.1).
Items live in 10 tenants ("bench", "t<i>"); searches are scoped to one tenant, limit 10.
The learned-context pattern is measured on 20 extra namespaces of 50 entries each,
("bench", "t<i>", "questions", "c<j>", "v1") (included in the entry count): search with a query,
limit 3; get by key; list the namespace (search without a query).
`chroma-embedded-baseline` runs the ChromaStore found at $BENCH_BASELINE (a copy of an older
chroma.py) for before/after figures in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, PutOp

DIMS = 384
TENANTS = 10
SAMPLES = 200
CONTEXTS = 20
PER_CONTEXT = 50


class Precomputed(Embeddings):
    """Returns a fixed random unit vector per text (deterministic from the text's hash)."""

    def __init__(self) -> None:
        self._cache: dict[str, list[float]] = {}

    def vector(self, text: str) -> list[float]:
        v = self._cache.get(text)
        if v is None:
            rng = np.random.default_rng(abs(hash(text)) % (2**32))
            a = rng.standard_normal(DIMS)
            v = (a / np.linalg.norm(a)).tolist()
            self._cache[text] = v
        return v

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vector(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(path: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    chroma = str(Path(sys.executable).with_name("chroma"))
    proc = subprocess.Popen(
        [chroma, "run", "--path", path, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("chroma server did not start")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] * 1000


def run_one(backend: str, size: int) -> dict[str, Any]:
    emb = Precomputed()
    texts = [f"document number {i}" for i in range(size + SAMPLES)]
    emb.embed_documents(texts)  # precompute: embedding time excluded
    queries = [f"query {i}" for i in range(SAMPLES)]
    emb.embed_documents(queries)
    index: Any = {"dims": DIMS, "embed": emb, "fields": ["text"]}
    server = None
    tmp = tempfile.mkdtemp(prefix="bench-store-")
    store: BaseStore
    if backend == "inmemory":
        from langgraph.store.memory import InMemoryStore

        store = InMemoryStore(index=index)
    else:
        from sleeptime import ChromaStore

        if backend == "chroma-embedded-baseline":
            import importlib.util

            spec = importlib.util.spec_from_file_location("chroma_baseline", os.environ["BENCH_BASELINE"])
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            ChromaStore = mod.ChromaStore  # noqa: N806
        if backend == "chroma-server":
            server, url = start_server(tmp)
            store = ChromaStore(url=url, index=index)
        else:
            store = ChromaStore(path=tmp, index=index)
    try:
        t0 = time.perf_counter()
        chunk = 5000
        small = CONTEXTS * PER_CONTEXT
        ctx_ns = [("bench", f"t{c % TENANTS}", "questions", f"c{c}", "v1") for c in range(CONTEXTS)]
        store.batch(
            [
                PutOp(ctx_ns[i // PER_CONTEXT], f"q{i}", {"text": texts[i], "tag": "q", "n": i})
                for i in range(small)
            ]
        )
        for start in range(small, size, chunk):
            store.batch(
                [
                    PutOp(
                        ("bench", f"t{i % TENANTS}"),
                        f"k{i}",
                        {"text": texts[i], "tag": "x" if i % 3 == 0 else "y", "n": i},
                    )
                    for i in range(start, min(size, start + chunk))
                ]
            )
        load_s = time.perf_counter() - t0
        put_lat = []
        for j in range(SAMPLES):
            i = size + j
            t = time.perf_counter()
            store.put(("bench", f"t{i % TENANTS}"), f"k{i}", {"text": texts[i], "tag": "y", "n": i})
            put_lat.append(time.perf_counter() - t)
        search_lat = []
        for j, q in enumerate(queries):
            t = time.perf_counter()
            res = store.search(("bench", f"t{j % TENANTS}"), query=q, limit=10)
            search_lat.append(time.perf_counter() - t)
            assert len(res) == 10
        filt_lat = []
        for j, q in enumerate(queries[:50]):
            t = time.perf_counter()
            store.search(("bench", f"t{j % TENANTS}"), query=q, filter={"tag": "x"}, limit=10)
            filt_lat.append(time.perf_counter() - t)
        ctx_lat, get_lat, list_lat = [], [], []
        for j, q in enumerate(queries[:100]):
            ns = ctx_ns[j % CONTEXTS]
            t = time.perf_counter()
            res = store.search(ns, query=q, limit=3)
            ctx_lat.append(time.perf_counter() - t)
            assert len(res) == 3 and all(tuple(r.namespace) == ns for r in res)
            t = time.perf_counter()
            got = store.get(ns, f"q{(j % CONTEXTS) * PER_CONTEXT + j % PER_CONTEXT}")
            get_lat.append(time.perf_counter() - t)
            assert got is not None
        for j in range(50):
            t = time.perf_counter()
            res = store.search(ctx_ns[j % CONTEXTS], limit=1000)
            list_lat.append(time.perf_counter() - t)
            assert len(res) == PER_CONTEXT
        server_rss = None
        if server is not None:
            status = Path(f"/proc/{server.pid}/status").read_text()
            server_rss = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM")) / 1024
        return {
            "backend": backend,
            "size": size,
            "load_per_s": size / load_s,
            "put_p50": pct(put_lat, 50),
            "put_p99": pct(put_lat, 99),
            "put_per_s": SAMPLES / sum(put_lat),
            "search_p50": pct(search_lat, 50),
            "search_p99": pct(search_lat, 99),
            "search_per_s": SAMPLES / sum(search_lat),
            "filter_search_p50": pct(filt_lat, 50),
            "ctx_search_p50": pct(ctx_lat, 50),
            "get_p50": pct(get_lat, 50),
            "list_p50": pct(list_lat, 50),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "server_rss_mb": server_rss,
            "mean_search_ms": statistics.mean(search_lat) * 1000,
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--backends", default="inmemory,chroma-embedded,chroma-server")
    parser.add_argument("--one", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    print(
        "| backend | entries | bulk load items/s | put p50 ms | put p99 ms | puts/s | search p50 ms "
        "| search p99 ms | searches/s | filtered search p50 ms | ctx search p50 ms | get p50 ms | ctx list p50 ms "
        "| peak RSS MB (client / server) |",
        flush=True,
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for size in [int(s) for s in args.sizes.split(",")]:
        for backend in args.backends.split(","):
            t0 = time.monotonic()
            out = subprocess.run(
                [sys.executable, __file__, "--one", backend, str(size)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                print(f"{backend} {size} failed:\n{out.stderr[-2000:]}", file=sys.stderr, flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            server = f" / {r['server_rss_mb']:.0f}" if r["server_rss_mb"] else ""
            print(
                f"| {r['backend']} | {r['size']:,} | {r['load_per_s']:,.0f} | {r['put_p50']:.2f} "
                f"| {r['put_p99']:.2f} | {r['put_per_s']:,.0f} | {r['search_p50']:.2f} | {r['search_p99']:.2f} "
                f"| {r['search_per_s']:,.0f} | {r['filter_search_p50']:.2f} | {r['ctx_search_p50']:.2f} "
                f"| {r['get_p50']:.2f} | {r['list_p50']:.2f} | {r['rss_mb']:.0f}{server} |",
                flush=True,
            )
            print(f"<!-- {backend} {size}: {time.monotonic() - t0:.0f} s -->", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
