"""Contexts of any size: folders in, part-by-part sleep, retrieval-packed wake, all within the window."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langgraph.store.memory import InMemoryStore

from sleeptime.errors import EmptyContextError, InvalidInputError, UnreadableFileError
from sleeptime.facade import SleepTime
from sleeptime.large.windows import TEMPLATE_MARGIN
from sleeptime.prompts import parts as parts_prompt
from sleeptime.prompts import predict as predict_prompt
from sleeptime.prompts import reflect as reflect_prompt
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.testing import HashEmbeddings, ScriptedChatModel, count_tokens
from sleeptime.wake_budget import reply_room

WINDOW = 600
SLEEP_REPLY = 80
WAKE_REPLY = 40


def _reply(messages: list[BaseMessage]) -> str:
    system = messages[0].text
    if system == parts_prompt.PART_SYSTEM:
        source = re.search(r"^Part (\S+):", messages[1].text, re.M)
        return f"1. This part is {source.group(1) if source else '?'}.\n2. It defines names."
    if system == parts_prompt.REDUCE_SYSTEM:
        return "1. The collection has modules alpha, beta and gamma.\n2. Each defines functions."
    if system.startswith(parts_prompt.QUESTIONS_SYSTEM.split("{")[0][:40]):
        return json.dumps({"questions": [{"question": "Which module defines beta?", "answer": "pkg/beta.py"}]})
    if system == reflect_prompt.SYSTEM:
        return "1. small notes\nSTATUS: DONE"
    if system == predict_prompt.SYSTEM.format(n=3):
        return json.dumps({"questions": [{"question": "What is it?", "answer": "A thing."}]})
    return "The answer is pkg/beta.py."


def _prompt_tokens(messages: list[BaseMessage]) -> int:
    return sum(count_tokens(m.text) for m in messages) + TEMPLATE_MARGIN


def _module(name: str, n: int, marker: str = "") -> str:
    body = [f'"""Module {name}: helpers for {name}."""', ""]
    for i in range(n):
        body += [f"def {name}_function_{i}(value):", f'    """Return value plus {i} for {name} {marker}."""',
                 f"    return value + {i}", ""]
    return "\n".join(body)


def _codebase(root: Path, beta_marker: str = "") -> Path:
    pkg = root / "pkg"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "alpha.py").write_text(_module("alpha", 30))
    (pkg / "beta.py").write_text(_module("beta", 30, beta_marker))
    (pkg / "gamma.py").write_text(_module("gamma", 30))
    (root / "README.md").write_text("# Demo\n\nThe pkg package has alpha, beta and gamma modules.\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    (root / "dump.txt").write_text("x" * 2_000_001)
    (root / "build").mkdir(exist_ok=True)
    (root / "build" / "generated.py").write_text("GENERATED = 1\n")
    (root / ".gitignore").write_text("build/\n")
    return root


@pytest.fixture
def scripted() -> ScriptedChatModel:
    return ScriptedChatModel(default=_reply)


@pytest.fixture
def tiny(scripted: ScriptedChatModel) -> SleepTime:
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    return SleepTime(
        store=store, sleep_model=scripted, wake_model=scripted, context_window=WINDOW,
        max_tokens_sleep=SLEEP_REPLY, max_tokens_wake=WAKE_REPLY, learned_max_chars=600,
        part_notes_chars=300, chunk_size=400, chunk_overlap=0, wake_chunks=8,
    )


def test_folder_ingest_takes_globs_and_skips_binary_huge_and_ignored(tiny: SleepTime, tmp_path: Path) -> None:
    root = _codebase(tmp_path)
    result = tiny.ingest("code", folder=root)
    assert sorted(result.sources) == ["README.md", "pkg/alpha.py", "pkg/beta.py", "pkg/gamma.py"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["logo.png"] == "binary"
    assert reasons["dump.txt"].startswith("larger than")
    assert "build/generated.py" not in result.sources and "build/generated.py" not in reasons

    narrowed = tiny.ingest("code", folder=root, include=["pkg/*.py"], exclude=["pkg/gamma.py"])
    assert sorted(narrowed.sources) == ["pkg/alpha.py", "pkg/beta.py"]
    manifest = LearnedContextStore(tiny.store).parts.manifest("code", narrowed.revision)
    assert manifest is not None and {c.source for c in manifest} == {"pkg/alpha.py", "pkg/beta.py"}
    first = manifest[0]
    lines = (root / first.source).read_text().splitlines()
    assert "\n".join(lines[first.start_line - 1 : first.end_line]).strip() == first.text.strip()


def test_folder_with_nothing_readable_and_a_folder_passed_as_a_file_raise(tiny: SleepTime, tmp_path: Path) -> None:
    (tmp_path / "only.bin").write_bytes(b"\0\1\2")
    with pytest.raises(EmptyContextError, match=r"only\.bin \(binary\)"):
        tiny.ingest("none", folder=tmp_path)
    with pytest.raises(UnreadableFileError, match="is a folder"):
        tiny.ingest("none", files=[tmp_path])


def test_large_context_sleeps_part_by_part_and_every_prompt_fits(
    tiny: SleepTime, scripted: ScriptedChatModel, tmp_path: Path
) -> None:
    tiny.ingest("code", folder=_codebase(tmp_path))
    result = tiny.sleep("code")
    assert result.published
    part_calls = [c for c in scripted.calls if c[0].text == parts_prompt.PART_SYSTEM]
    assert len(part_calls) >= 4  # every file, the big ones in sections
    for call in scripted.calls:
        assert _prompt_tokens(call) + SLEEP_REPLY <= WINDOW
    assert "alpha, beta and gamma" in result.learned[0]
    assert result.questions and result.questions[0]["answer"] == "pkg/beta.py"


def test_resleep_after_one_file_changes_reflects_only_that_file(
    tiny: SleepTime, scripted: ScriptedChatModel, tmp_path: Path
) -> None:
    root = _codebase(tmp_path)
    tiny.ingest("code", folder=root)
    tiny.sleep("code")
    first = [c for c in scripted.calls if c[0].text == parts_prompt.PART_SYSTEM]
    beta_parts = [c for c in first if "pkg/beta.py" in c[1].text]
    assert beta_parts
    (root / "pkg" / "beta.py").write_text(_module("beta", 30, "changed"))
    n_before = len(scripted.calls)
    tiny.ingest("code", folder=root)
    assert tiny.sleep("code").published
    again = [c for c in scripted.calls[n_before:] if c[0].text == parts_prompt.PART_SYSTEM]
    assert again and all("pkg/beta.py" in c[1].text for c in again)
    assert len(again) == len(beta_parts)
    assert any(c[0].text == parts_prompt.REDUCE_SYSTEM for c in scripted.calls[n_before:])  # re-reduced


@pytest.mark.parametrize("mode", ["learned", "test-time"])
def test_wake_on_a_large_context_packs_within_budget_and_cites_sources(
    tiny: SleepTime, scripted: ScriptedChatModel, tmp_path: Path, mode: str
) -> None:
    tiny.ingest("code", folder=_codebase(tmp_path))
    tiny.sleep("code")
    n_before = len(scripted.calls)
    answer = tiny.ask("Which function returns value plus 7 for beta?", "code", mode=mode)  # type: ignore[arg-type]
    wake_calls = scripted.calls[n_before:]
    assert wake_calls
    for call in wake_calls:
        assert _prompt_tokens(call) + reply_room(tiny.config) <= WINDOW
    assert answer.sources
    for cite in answer.sources:
        assert re.fullmatch(r"(notes on )?(pkg/\w+\.py|README\.md):\d+-\d+", cite), cite
    prompt = wake_calls[0][1].text
    assert f"[{answer.sources[0]}]" in prompt
    assert any("beta" in s for s in answer.sources)


def test_wake_reads_the_revision_its_version_was_built_from(
    tiny: SleepTime, scripted: ScriptedChatModel, tmp_path: Path
) -> None:
    root = _codebase(tmp_path, beta_marker="OLDMARK")
    tiny.ingest("code", folder=root)
    tiny.sleep("code")
    (root / "pkg" / "beta.py").write_text(_module("beta", 30, "NEWMARK"))
    tiny.ingest("code", folder=root)  # not slept on yet
    question = "Which beta function returns value plus 3 for beta OLDMARK NEWMARK?"
    n0 = len(scripted.calls)
    slept = tiny.ask(question, "code", mode="learned", wake_chunks=40)
    slept_prompt = scripted.calls[n0][1].text.split("Question:")[0]
    n1 = len(scripted.calls)
    baseline = tiny.ask(question, "code", mode="test-time", wake_chunks=40)
    baseline_prompt = scripted.calls[n1][1].text.split("Question:")[0]
    # The learned version was built from revision 1: its wake reads revision 1's text; test time the newest.
    assert "OLDMARK" in slept_prompt and "NEWMARK" not in slept_prompt
    assert "NEWMARK" in baseline_prompt and "OLDMARK" not in baseline_prompt
    assert slept.version == 1
    assert any("beta" in s for s in slept.sources) and any("beta" in s for s in baseline.sources)
    index = LearnedContextStore(tiny.store).parts
    old_rev = tiny.learned_store().version("code", 1).source_revision  # type: ignore[union-attr]
    assert old_rev == 1 and tiny.learned_store().context("code").revision == 2
    old_texts = {c.text for c in index.search_chunks("code", 1, question, 40)}
    assert all("NEWMARK" not in t for t in old_texts)
    assert any("NEWMARK" in c.text for c in index.search_chunks("code", 2, question, 40))


def test_small_context_keeps_the_single_prompt_path(tiny: SleepTime, scripted: ScriptedChatModel) -> None:
    tiny.ingest("small", "A shop sells pens at 2 dollars each and has 10 pens.")
    result = tiny.sleep("small")
    assert result.published
    assert not any(c[0].text == parts_prompt.PART_SYSTEM for c in scripted.calls)
    answer = tiny.ask("How much are the pens?", "small")
    assert answer.sources == []


def test_a_window_too_small_for_any_part_says_so(scripted: ScriptedChatModel, tmp_path: Path) -> None:
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    app = SleepTime(store=store, sleep_model=scripted, wake_model=scripted, context_window=200,
                    max_tokens_sleep=150)
    app.ingest("code", folder=_codebase(tmp_path))
    with pytest.raises(InvalidInputError, match="no room for a part"):
        app.sleep("code")


def test_async_twins_on_a_large_context(tiny: SleepTime, tmp_path: Path) -> None:
    import asyncio

    async def run() -> tuple[bool, list[str], list[str]]:
        record = await tiny.aingest("code", folder=_codebase(tmp_path))
        slept = await tiny.asleep("code")
        answer = await tiny.aask("Which function returns value plus 7 for beta?", "code")
        return slept.published, [s.path for s in record.skipped], answer.sources

    published, skipped, sources = asyncio.run(run())
    assert published and "logo.png" in skipped and sources


def test_window_of_a_scripted_model_and_a_bad_window(scripted: ScriptedChatModel) -> None:
    from sleeptime.large.windows import UNBOUNDED, window_of

    assert window_of(scripted).tokens == UNBOUNDED
    window = window_of(scripted, 500)
    assert window.tokens == 500 and window.count("three words here") == 3
    assert window.room(100) == 500 - 100 - TEMPLATE_MARGIN
    with pytest.raises(InvalidInputError, match="context_window"):
        window_of(scripted, 0)


def test_part_index_keeps_recent_manifests_and_drops_chunks_nobody_lists() -> None:
    from sleeptime.large.sources import split_source
    from sleeptime.stores.parts import KEEP_MANIFESTS

    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text"]})
    index = LearnedContextStore(store).parts
    for rev in range(1, KEEP_MANIFESTS + 3):
        chunks = split_source(f"version {rev} of the file\n", "a.txt")
        index.index_chunks("c", chunks)
        index.record_manifest("c", rev, chunks)
    assert index.manifest("c", 1) is None and index.manifest("c", 2) is None
    kept = index.manifest("c", KEEP_MANIFESTS + 2)
    assert kept is not None and kept[0].text.startswith(f"version {KEEP_MANIFESTS + 2}")
    texts = {i.value["text"] for i in store.search(("sleeptime", "default", "pieces", "c"), limit=100)}
    assert texts == {f"version {r} of the file" for r in range(3, KEEP_MANIFESTS + 3)}


def test_a_large_sleep_publishes_its_notes_when_the_questions_reply_is_bad(tmp_path: Path) -> None:
    def reply(messages: list[BaseMessage]) -> str:
        if messages[0].text.startswith(parts_prompt.QUESTIONS_SYSTEM.split("{")[0][:40]):
            return '{"questions": [{"question": "cut off'
        return _reply(messages)

    chat = ScriptedChatModel(default=reply)
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    app = SleepTime(store=store, sleep_model=chat, wake_model=chat, context_window=WINDOW,
                    max_tokens_sleep=SLEEP_REPLY, max_tokens_wake=WAKE_REPLY, learned_max_chars=600,
                    part_notes_chars=300, chunk_size=400, chunk_overlap=0)
    app.ingest("code", folder=_codebase(tmp_path))
    result = app.sleep("code")
    assert result.published and result.questions == [] and "alpha, beta and gamma" in result.learned[0]


def test_a_large_contexts_map_is_the_prefix_the_saved_state_covers(
    scripted: ScriptedChatModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sleep with DESCRIBE writes a map; every wake prompt starts with the map (evidence after it), and the
    state warm-up saves for the version's common prefix is read (restored) for a real wake prompt."""
    import dataclasses

    import numpy as np

    from sleeptime.local import kv_state
    from sleeptime.local.prefix_cache import PrefixState
    from sleeptime.notes.strategies import DESCRIBE, Experiment
    from sleeptime.warmup import prompt_variants

    seen: list[list[BaseMessage]] = []
    model = ScriptedChatModel(default=lambda m: (seen.append(m), _reply(m))[1])
    app = SleepTime(store=InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text"]}),
                    sleep_model=model, wake_model=model, context_window=WINDOW, max_tokens_sleep=SLEEP_REPLY,
                    max_tokens_wake=WAKE_REPLY, verify="off", max_escalations=0, wake_context_tokens=300,
                    experiment=Experiment(parts=dataclasses.replace(DESCRIBE, show_map=True)))
    app.ingest("code", folder=_codebase(tmp_path), include=["*.py"])
    result = app.sleep("code")
    assert result.learned[0].startswith("Map of the files") and result.questions == []
    variants = prompt_variants(app.config, app.learned_store(), "code", result.version)
    assert len(variants) == 2

    def chars(messages: list[BaseMessage]) -> list[int]:  # a stand-in tokenizer: one token a character
        return [ord(c) for c in "\n".join(m.text for m in messages)]

    saved = chars(variants[0])[: kv_state.common_prefix(chars(variants[0]), chars(variants[1]))]
    seen.clear()
    app.ask("Which module defines beta_function_3?", "code")
    prompt = chars(seen[-1])
    text = "\n".join(m.text for m in seen[-1])
    assert text.index("Map of the files") < text.index("Situation:") < text.index("[pkg/")

    class Llama:
        def __init__(self) -> None:
            self.input_ids = np.zeros(len(prompt) + 8, dtype=np.intc)
            self.n_tokens = 0

        def generate(self, tokens: list[int], *args: object, **kwargs: object) -> object:
            yield 7

    def restore(llama: Llama, entry: PrefixState) -> bool:
        llama.input_ids[: len(entry.tokens)] = entry.tokens
        llama.n_tokens = len(entry.tokens)
        return True

    monkeypatch.setattr(kv_state, "restore", restore)
    llama = Llama()
    with kv_state.reusing_prefix(llama, lambda: PrefixState(tokens=tuple(saved), state=b"kv")) as reuse:
        list(llama.generate(prompt))  # type: ignore[call-overload]
    assert reuse.restored and reuse.cached_tokens == len(saved) > text.index("Situation:")


def _interrupting(on_part: int, interrupt: Callable[[], None]) -> tuple[ScriptedChatModel, list[str]]:
    """The scripted replies, `interrupt` called in the model call of part number `on_part`."""
    parts: list[str] = []
    lock = threading.Lock()

    def reply(messages: list[BaseMessage]) -> str:
        if messages[0].text == parts_prompt.PART_SYSTEM:
            with lock:
                parts.append(messages[1].text.split("\n", 1)[0])
                n = len(parts)
            if n == on_part:
                interrupt()
        return _reply(messages)

    return ScriptedChatModel(default=reply), parts


def _app(model: ScriptedChatModel) -> SleepTime:
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    return SleepTime(
        store=store, sleep_model=model, wake_model=model, context_window=WINDOW, max_tokens_sleep=SLEEP_REPLY,
        max_tokens_wake=WAKE_REPLY, learned_max_chars=600, part_notes_chars=300, chunk_size=400, chunk_overlap=0,
        part_concurrency=1,
    )


def test_an_interrupted_part_stops_the_sleep_and_no_further_part_runs(tmp_path: Path) -> None:
    def ctrl_c() -> None:
        raise KeyboardInterrupt

    model, parts = _interrupting(2, ctrl_c)
    app = _app(model)
    app.ingest("code", folder=_codebase(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        app.sleep("code")
    assert len(parts) == 2, f"no part after the interrupted one made a call: {parts}"
    assert model.calls_for("reduce") == [], "nothing after the parts ran"
    assert app.learned("code") is None, "nothing published"
    assert app.sleep("code").published, "the next sleep runs and publishes"
    assert len(parts) > 3, "the next sleep reflects the parts that did not finish"


@pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                    reason="another SIGINT handler is installed")
def test_ctrl_c_in_the_main_thread_stops_the_parts_waiting_their_turn(tmp_path: Path) -> None:
    def ctrl_c() -> None:
        # As a terminal's Ctrl-C while the sleep waits on its parts: SIGINT to the process 0.1 s into the first
        # part's model call (0.3 s long), handled in the main thread.
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        time.sleep(0.3)

    model, parts = _interrupting(1, ctrl_c)
    app = _app(model)
    app.ingest("code", folder=_codebase(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        app.sleep("code")
    # Without the stop flag every part waiting for its turn makes its call before the interrupt is raised
    # (measured: all 7 parts, 2.1 s, against 1 part, 0.3 s).
    assert len(parts) == 1, f"the parts waiting for their turn made no call: {parts}"
    assert app.learned("code") is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the handler is put back"


def test_a_wake_without_the_map_gives_its_room_to_evidence(scripted: ScriptedChatModel, tmp_path: Path) -> None:
    import dataclasses

    from sleeptime.notes.strategies import OUTLINE, Experiment

    seen: list[list[BaseMessage]] = []
    model = ScriptedChatModel(default=lambda m: (seen.append(m), _reply(m))[1])
    common: dict[str, Any] = dict(sleep_model=model, wake_model=model, context_window=WINDOW,
                                  max_tokens_sleep=SLEEP_REPLY, max_tokens_wake=WAKE_REPLY, verify="off",
                                  max_escalations=0, wake_context_tokens=300)
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text"]})
    app = SleepTime(store=store, experiment=Experiment(parts=OUTLINE), **common)
    app.ingest("code", folder=_codebase(tmp_path), include=["*.py"])
    assert app.sleep("code").learned[0].startswith("Map of the files")
    shown = {}
    for show_map in (True, False):
        waker = SleepTime(store=store, experiment=Experiment(parts=dataclasses.replace(OUTLINE, show_map=show_map)),
                          **common)
        seen.clear()
        answer = waker.ask("Which module defines beta_function_3?", "code")
        text = "\n".join(m.text for m in seen[-1])
        assert ("Map of the files" in text) is show_map
        shown[show_map] = len(answer.sources)
    assert shown[False] > shown[True]  # the map's room went to evidence
