"""Crash consistency and concurrent publishers, with real processes: SIGKILL mid-write (on disk and
on a `chroma run` server) and two publisher processes on one server (issue 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.crash_store import run
from tests.servers import ChromaServer, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-crash"), free_port())
    srv.start()
    yield srv
    srv.stop()


def _assert_whole(figures: dict[str, object]) -> None:
    assert figures["inconsistent_reopens"] == 0, figures["problems"]
    assert figures["head_went_back"] == 0
    assert figures["problems_after_collect"] == 0
    # after collect (no writer left): the kept versions' questions, at most one dead-free set each,
    # besides the sets of writers killed between sealing and claiming (kept until the chain passes them)
    left, sealed = figures["question_sets_left"], figures["question_sets_sealed_unclaimed"]
    assert isinstance(left, int) and isinstance(sealed, int) and sealed <= figures["kills"]
    assert left - sealed <= 4, figures


def test_sigkill_publish_ingest_on_disk(tmp_path: Path) -> None:
    _assert_whole(run(str(tmp_path / "db"), kills=10, seed=7))


def test_sigkill_publish_ingest_on_server(server: ChromaServer) -> None:
    # the harness uses one collection name; a fresh server data folder per module keeps it empty
    _assert_whole(run(server.url, kills=10, seed=11))


PUBLISHER = textwrap.dedent(
    """
    import json, sys
    from sleeptime.stores import ChromaStore, LearnedContextStore
    from sleeptime.testing import HashEmbeddings
    url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = ChromaStore(url=url, collection="twoproc", index={"embed": HashEmbeddings(32), "fields": ["question"]})
    lc = LearnedContextStore(store, "t")
    got = []
    for i in range(n):
        tag = f"{name}{i}"
        qs = [{"question": f"{tag} question {j} of 4", "answer": tag} for j in range(4)]
        got.append(lc.publish("c", samples=[f"{tag} notes"], questions=qs, source_revision=1))
    print(json.dumps(got), flush=True)
    """
)


def test_two_processes_publish_distinct_gap_free_versions(server: ChromaServer) -> None:
    from sleeptime.stores import ChromaStore, LearnedContextStore
    from sleeptime.testing import HashEmbeddings

    index: Any = {"embed": HashEmbeddings(32), "fields": ["question"]}
    store = ChromaStore(url=server.url, collection="twoproc", index=index)
    lc = LearnedContextStore(store, "t")
    lc.put_chunks("c", ["the text"], ["<text>"])
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", PUBLISHER, server.url, name, "12"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    reads, mixed = 0, []
    while any(p.poll() is None for p in procs):  # read while they publish: never a mix
        learned = lc.latest("c")
        if learned is None:
            continue
        tag = learned.samples[0].split(" ")[0]
        answers = {q["answer"] for q in lc.questions("c", learned)}
        reads += 1
        if answers != {tag} or len(lc.questions("c", learned)) != 4:
            mixed.append((learned.version, tag, sorted(answers)))
    versions: list[int] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        versions.extend(json.loads(out))
    assert sorted(versions) == list(range(1, 25))  # distinct and gap-free
    assert mixed == [] and reads > 0
    assert lc.require_latest("c").version == 24
