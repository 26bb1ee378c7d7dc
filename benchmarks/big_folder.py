"""A folder of many small files, ingested into an on-disk ChromaStore: time, peak memory, typed errors.

Run with (from the repository root):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/big_folder.py --files 100000

Writes `--files` small text files (about 60 bytes each, 100 per sub-folder) under a temporary folder,
ingests the folder with `SleepTime.ingest` into an on-disk `ChromaStore` indexed with 64-dimension
`HashEmbeddings` (no model), then reads every chunk back through `LearnedContextStore.chunks` and
checks the count. Peak memory is the process's maximum resident set size (getrusage). Prints one
JSON object; `untyped` is the name of any exception that is not a `SleepTimeError` (the acceptance
asks for none).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from sleeptime import SleepTime
from sleeptime.errors import SleepTimeError
from sleeptime.stores import ChromaStore
from sleeptime.testing import HashEmbeddings, scripted_model


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    out: dict[str, object] = {"files": args.files}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        for i in range(args.files):
            sub = folder / f"d{i // 100:05d}"
            if i % 100 == 0:
                sub.mkdir(parents=True)
            (sub / f"f{i:06d}.txt").write_text(f"File {i}: item {i} costs ${i % 97} and weighs {i % 13} kg.\n")
        out["rss_mb_before"] = round(_rss_mb(), 1)
        emb = HashEmbeddings(64)
        store = ChromaStore(path=Path(tmp) / "store", index={"dims": 64, "embed": emb, "fields": ["text"]})
        model = scripted_model()
        with SleepTime(store=store, sleep_model=model, wake_model=model) as app:
            started = time.perf_counter()
            try:
                record = app.ingest("corpus", folder=folder)
                out.update(revision=record.revision, chunks=record.n_chunks, sources=len(record.sources),
                           skipped=len(record.skipped))
                out["ingest_s"] = round(time.perf_counter() - started, 1)
                out["rss_mb_after_ingest"] = round(_rss_mb(), 1)
                started = time.perf_counter()
                out["chunks_read_back"] = len(app.learned_store().chunks("corpus"))
                out["read_s"] = round(time.perf_counter() - started, 1)
            except SleepTimeError as error:
                out["typed_error"] = f"{type(error).__name__}: {error}"
            except Exception as error:  # the acceptance counts these
                out["untyped"] = f"{type(error).__name__}: {error}"
        store._client.close()
    out["rss_mb_peak"] = round(_rss_mb(), 1)
    print(json.dumps(out))
    sys.exit(1 if "untyped" in out else 0)


if __name__ == "__main__":
    main()
