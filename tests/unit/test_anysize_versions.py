"""Contexts of any size across versions: what is collected, and what a wake reads while they change."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore

from sleeptime.facade import Answer, SleepTime
from sleeptime.prompts import answer as answer_prompt
from sleeptime.prompts import parts as parts_prompt
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.stores.parts import KEEP_MANIFESTS
from sleeptime.testing import HashEmbeddings, ScriptedChatModel
from tests.unit.test_anysize import SLEEP_REPLY, WAKE_REPLY, WINDOW, _codebase, _module, _reply

NOTES_NS = ("sleeptime", "default", "partnotes", "code")
MANIFESTS_NS = ("sleeptime", "default", "manifests", "code")
_HEADER = re.compile(r"^\[((?:notes on )?[\w./]+):(\d+)-(\d+)\]\n", re.M)
WAIT_S = 30


def _app(chat: ScriptedChatModel, store: Any = None, **options: Any) -> SleepTime:
    store = store or InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    settings: dict[str, Any] = {
        "context_window": WINDOW, "max_tokens_sleep": SLEEP_REPLY, "max_tokens_wake": WAKE_REPLY,
        "learned_max_chars": 600, "part_notes_chars": 300, "chunk_size": 400, "chunk_overlap": 0, "wake_chunks": 8,
    }
    return SleepTime(store=store, sleep_model=chat, wake_model=chat, **{**settings, **options})


def _notes_sources(store: Any) -> dict[str, str]:
    return {i.key: i.value["source"] for i in store.search(NOTES_NS, limit=10_000)}


def _store(kind: str, tmp_path: Path) -> Any:
    index: Any = {"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]}
    if kind == "chroma":
        from sleeptime.stores.chroma import ChromaStore

        return ChromaStore(path=tmp_path / "chroma", index=index)
    return InMemoryStore(index=index)


def test_notes_of_replaced_parts_are_collected_once_no_kept_revision_lists_them(tmp_path: Path) -> None:
    chat = ScriptedChatModel(default=_reply)
    app = _app(chat)
    root = _codebase(tmp_path / "src")
    app.ingest("code", folder=root)
    app.sleep("code")
    first = _notes_sources(app.store)
    old_beta = {k for k, s in first.items() if s == "pkg/beta.py"}
    unchanged = set(first) - old_beta
    assert old_beta and unchanged
    index = LearnedContextStore(app.store).parts
    for i in range(1, KEEP_MANIFESTS + 1):
        (root / "pkg" / "beta.py").write_text(_module("beta", 30, f"change {i}"))
        n0 = len(chat.calls)
        app.ingest("code", folder=root)
        assert app.sleep("code").published
        reflected = [c for c in chat.calls[n0:] if c[0].text == parts_prompt.PART_SYSTEM]
        # Only the changed file is reflected again; every other part's notes are reused from the store.
        assert len(reflected) == len(old_beta) and all("Part pkg/beta.py:" in c[1].text for c in reflected)
        now = _notes_sources(app.store)
        assert unchanged <= set(now)
        # Revision 1's notes stay while its manifest is kept (a recent revision or a kept version's source).
        assert (old_beta <= set(now)) == (index.manifest("code", 1) is not None)
    assert index.manifest("code", 1) is None
    assert not old_beta & set(_notes_sources(app.store))
    listed = {p[0] for m in app.store.search(MANIFESTS_NS, limit=100) for p in m.value.get("parts", [])}
    assert set(_notes_sources(app.store)) == listed  # nothing kept that no kept manifest lists


def test_a_published_head_keeps_its_revision_readable_past_the_manifest_window(tmp_path: Path) -> None:
    chat = ScriptedChatModel(default=_reply)
    app = _app(chat)
    root = _codebase(tmp_path, beta_marker="OLDMARK")
    app.ingest("code", folder=root)
    app.sleep("code")
    for i in range(KEEP_MANIFESTS + 1):  # re-ingested often, never slept on again
        (root / "pkg" / "beta.py").write_text(_module("beta", 30, f"NEWMARK{i}"))
        app.ingest("code", folder=root)
    index = LearnedContextStore(app.store).parts
    assert index.manifest("code", 2) is None and index.manifest("code", 1) is not None
    n0 = len(chat.calls)
    answer = app.ask("Which beta function returns value plus 3 for beta OLDMARK?", "code")
    assert answer.version == 1 and any("beta" in s for s in answer.sources)
    assert "OLDMARK" in chat.calls[n0][1].text and "NEWMARK" not in chat.calls[n0][1].text


@pytest.mark.parametrize("kind", ["memory", "chroma"])
def test_part_index_collects_on_each_store_and_unlisted_items_wait_out_the_grace(tmp_path: Path, kind: str) -> None:
    from sleeptime.large.sources import split_source

    index = LearnedContextStore(_store(kind, tmp_path)).parts

    def revision(rev: int, a_text: str) -> None:
        chunks = [*split_source(a_text, "a.txt"), *split_source("b stays the same\n", "b.txt")]
        index.index_chunks("c", chunks)
        index.record_manifest("c", rev, chunks)
        parts = [(f"part-{c.digest[:12]}", c.source, c.start_line, c.end_line) for c in chunks]
        index.set_parts("c", rev, parts)
        for key, source, start, end in parts:
            index.put_part_notes("c", key, f"notes on {source}", source, start, end)

    revision(1, "a first\n")
    a_key, b_key = index.parts_of("c", 1)
    first_a = [a_key]
    index.put_part_notes("c", "in-flight", "notes of a sleep whose plan is not seen yet", "a.txt", 1, 1)
    for rev in range(2, KEEP_MANIFESTS + 2):
        revision(rev, f"a changed {rev}\n")
        assert bool(index.part_notes("c", first_a)) == (index.manifest("c", 1) is not None)
    assert index.manifest("c", 1) is None and not index.part_notes("c", first_a)
    assert index.part_notes("c", [b_key]) and index.part_notes("c", ["in-flight"])  # listed; young
    assert index.collect("c", grace_s=0.0)["partnotes"] == 1
    assert not index.part_notes("c", ["in-flight"]) and index.part_notes("c", [b_key])


# A wake during a re-ingest and a re-sleep


def _files(root: Path) -> dict[str, list[str]]:
    return {p.relative_to(root).as_posix(): p.read_text().splitlines() for p in root.rglob("*.py")} | {
        "README.md": (root / "README.md").read_text().splitlines()
    }


def _situation(prompt: str) -> str:
    marker = answer_prompt.CONTEXT_BLOCK.split("{")[0]
    assert marker in prompt, "no context in the prompt"
    body = prompt.split(marker, 1)[1]
    ends = [body.find(m) for m in ("\n\nYour notes from", "\n\nQuestions you expected", "\n\nQuestion: ")]
    return body[: min(e for e in ends if e >= 0)]


def _blocks(situation: str) -> list[tuple[str, int, int, str]]:
    heads = list(_HEADER.finditer(situation))
    assert heads and heads[0].start() == 0, situation[:200]
    out = []
    for h, nxt in zip(heads, [*heads[1:], None], strict=True):
        text = situation[h.end() : nxt.start() if nxt else len(situation)]
        out.append((h.group(1), int(h.group(2)), int(h.group(3)), text.removesuffix("\n\n")))
    return out


def _assert_reads_one_revision(
    app: SleepTime, answer: Answer, prompt: str, revision: int, files: dict[str, list[str]]
) -> None:
    """Every block of the packed prompt is `revision`'s text at the span it cites, every notes block
    describes a part `revision`'s sleep planned, and the cited sources are exactly those blocks."""
    blocks = _blocks(_situation(prompt))
    assert answer.sources == [f"{s}:{a}-{b}" for s, a, b, _ in blocks]
    manifest = app.store.get(MANIFESTS_NS, f"r{revision}")
    assert manifest is not None
    part_spans = {(p[1], p[2], p[3]) for p in manifest.value["parts"]}
    raw = [b for b in blocks if not b[0].startswith("notes on ")]
    assert raw
    for source, start, end, text in raw:
        assert text.strip() == "\n".join(files[source][start - 1 : end]).strip(), f"{source}:{start}-{end}"
    for source, start, end, _ in (b for b in blocks if b[0].startswith("notes on ")):
        assert (source.removeprefix("notes on "), start, end) in part_spans


class _Gate:
    """Blocks whoever calls `pause` once armed, until released: forces an interleaving."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = threading.Event()
        self.go = threading.Event()

    def pause(self) -> None:
        if self.armed:
            self.reached.set()
            assert self.go.wait(WAIT_S), "never released"


class _PausingStore(InMemoryStore):
    """Pauses a chunk search for one question (the wake has read the head, not the chunks yet),
    and the first write of new chunks once `ingest_gate` is armed (an ingest embedding them)."""

    def __init__(self, question: str, gate: _Gate, ingest_gate: _Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.question, self.gate, self.ingest_gate = question, gate, ingest_gate

    def search(self, namespace_prefix: tuple[str, ...], /, *, query: str | None = None, **kwargs: Any) -> Any:
        if query == self.question and namespace_prefix[2] == "pieces":
            self.gate.pause()
        return super().search(namespace_prefix, query=query, **kwargs)

    def batch(self, ops: Any) -> Any:
        ops = list(ops)
        if any(isinstance(op, PutOp) and op.namespace[2:3] == ("pieces",) and op.value for op in ops):
            self.ingest_gate.pause()
            self.ingest_gate.armed = False
        return super().batch(ops)


def _thread(fn: Callable[[], Any], out: dict[str, Any], key: str) -> threading.Thread:
    def target() -> None:
        try:
            out[key] = fn()
        except BaseException as error:  # surfaced by the test after join
            out[key] = error

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def test_a_wake_during_a_reingest_and_a_resleep_reads_one_consistent_version(tmp_path: Path) -> None:
    sleep_gate, wake_gate, ingest_gate = _Gate(), _Gate(), _Gate()
    held_question = "Which beta function returns value plus 5 for beta while it changes?"

    def reply(messages: list[BaseMessage]) -> str:
        if messages[0].text == parts_prompt.PART_SYSTEM:
            sleep_gate.pause()  # the re-sleep stops in the middle: parts being reflected
        return _reply(messages)

    chat = ScriptedChatModel(default=reply)
    store = _PausingStore(held_question, wake_gate, ingest_gate,
                          index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    app = _app(chat, store)
    root = _codebase(tmp_path)
    app.ingest("code", folder=root)
    assert app.sleep("code").version == 1
    rev1 = _files(root)
    # Revision 2: alpha changed, and a line above beta's body moves its unchanged chunks down a line.
    (root / "pkg" / "alpha.py").write_text(_module("alpha", 30, "changed"))
    (root / "pkg" / "beta.py").write_text("# a header line\n" + (root / "pkg" / "beta.py").read_text())
    rev2 = _files(root)
    question = "Which beta function returns value plus 7 for beta and alpha?"

    def ask(q: str, mode: str = "learned") -> tuple[Answer, str]:
        n0 = len(chat.calls)
        answer = app.ask(q, "code", mode=mode)  # type: ignore[arg-type]
        calls, nodes = chat.calls, chat.nodes  # the re-sleep may call the model meanwhile
        return answer, next(c for c, n in zip(calls[n0:], nodes[n0:], strict=False) if n == "answer")[1].text

    results: dict[str, Any] = {}
    sleep_gate.armed = ingest_gate.armed = True
    resleep = _thread(lambda: (app.ingest("code", folder=root), app.sleep("code")), results, "resleep")
    assert ingest_gate.reached.wait(WAIT_S)  # the re-ingest is embedding revision 2's new chunks
    for mode in ("learned", "test-time"):  # both still read revision 1, whole
        answer, prompt = ask(question, mode)
        _assert_reads_one_revision(app, answer, prompt, 1, rev1)
    ingest_gate.go.set()
    assert sleep_gate.reached.wait(WAIT_S)
    assert app.learned_store().context("code").revision == 2  # re-ingested; re-sleep under way

    answer, prompt = ask(question)  # the head is still version 1, built from revision 1
    assert answer.version == 1
    _assert_reads_one_revision(app, answer, prompt, 1, rev1)
    answer, prompt = ask(question, "test-time")  # no version: the newest revision, whole
    _assert_reads_one_revision(app, answer, prompt, 2, rev2)

    # A wake that read the head (version 1) and pauses before reading chunks, while the re-sleep
    # publishes version 2 and a third revision is ingested.
    wake_gate.armed = True
    held = _thread(lambda: ask(held_question), results, "held")
    assert wake_gate.reached.wait(WAIT_S)
    sleep_gate.go.set()
    resleep.join(WAIT_S)
    assert not isinstance(results["resleep"], BaseException), results["resleep"]
    assert results["resleep"][1].version == 2
    (root / "pkg" / "gamma.py").write_text(_module("gamma", 30, "changed"))
    app.ingest("code", folder=root)
    wake_gate.go.set()
    held.join(WAIT_S)
    assert not isinstance(results["held"], BaseException), results["held"]
    answer, prompt = results["held"]
    assert answer.version == 1
    _assert_reads_one_revision(app, answer, prompt, 1, rev1)

    answer, prompt = ask(question)  # now version 2, built from revision 2
    assert answer.version == 2
    _assert_reads_one_revision(app, answer, prompt, 2, rev2)
    assert any(s.startswith("pkg/beta.py") or s.startswith("notes on pkg/beta.py") for s in answer.sources)



# verify="model" on a large context


@pytest.mark.parametrize(("mode", "budget"), [("learned", 4), ("test-time", 4), ("learned", 1)])
def test_the_model_check_prompt_fits_the_window_like_the_answer(tmp_path: Path, mode: str, budget: int) -> None:
    from sleeptime.prompts import verify as verify_prompt
    from sleeptime.wake_budget import reply_room
    from tests.unit.test_anysize import _prompt_tokens

    # Replies long beside the window, small chunks so the packing fills the budget, and an answer as
    # long as the answer step may ask for at this budget (levels 3-4: twice max_tokens_wake).
    window, wake_reply = 800, 150
    longest = wake_reply * (2 if budget >= 3 else 1)
    verdicts: list[str] = []

    def reply(messages: list[BaseMessage]) -> str:
        if messages[0].text == verify_prompt.SYSTEM:
            verdicts.append(messages[1].text)
            return '{"verdict": "accept", "reason": "it follows"}'
        if messages[0].text.startswith("You answer questions"):
            return " ".join(["pkg/beta.py"] * (longest - 1)) + " done"
        return _reply(messages)

    chat = ScriptedChatModel(default=reply)
    app = _app(chat, verify="model", context_window=window, max_tokens_wake=wake_reply, chunk_size=150,
               wake_chunks=30)
    app.ingest("code", folder=_codebase(tmp_path))
    if mode == "learned":
        app.sleep("code")
    answer = app.ask("Which function returns value plus 7 for beta?", "code", mode=mode, budget=budget)  # type: ignore[arg-type]
    assert answer.verdict == "accept" and answer.sources
    assert verdicts and chat.calls_for("verify")
    for call in chat.calls_for("answer"):
        assert _prompt_tokens(call) + reply_room(app.config) <= window
    for call in chat.calls_for("verify"):
        assert _prompt_tokens(call) + wake_reply <= window, _prompt_tokens(call)
        assert "[pkg/" in call[1].text or "[notes on pkg/" in call[1].text  # the evidence is still there


def test_the_model_check_cuts_the_context_and_skips_when_the_answer_leaves_no_room() -> None:
    from sleeptime.config import SleepTimeConfig
    from sleeptime.nodes.wake.verify import check_messages
    from tests.unit.test_anysize import _prompt_tokens

    chat = ScriptedChatModel(default="unused")
    cfg = SleepTimeConfig(wake_model=chat, sleep_model=chat, context_window=400, max_tokens_wake=100)
    context = " ".join(f"fact{i}" for i in range(1000))
    messages = check_messages(cfg, context, "Which fact?", "fact7")
    assert messages is not None and _prompt_tokens(messages) + 100 <= 400
    assert "fact0 fact1" in messages[1].text and "fact999" not in messages[1].text
    assert check_messages(cfg, "short context", "Which fact?", "fact7 " * 10) is not None
    assert check_messages(cfg, context, "Which fact?", "word " * 200) is None  # the answer alone fills it
