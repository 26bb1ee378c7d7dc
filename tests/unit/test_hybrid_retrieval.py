"""Hybrid retrieval for large contexts: code-aware tokens, BM25, rank fusion, and the store-facing search."""

from __future__ import annotations

from pathlib import Path

from langgraph.store.memory import InMemoryStore

from sleeptime.large.lexical import BM25, rrf, tokens
from sleeptime.large.retrieval import DENSE, HYBRID
from sleeptime.stores import hybrid
from sleeptime.stores.corpus import load_context, store_context
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.testing import HashEmbeddings


def test_tokens_split_identifiers_and_drop_stop_words() -> None:
    got = tokens("The HelpFormatter.write_usage(self) returns show_default")
    assert "helpformatter" in got and "help" in got and "formatter" in got
    assert "write_usage" in got and "write" in got and "usage" in got
    assert "show_default" in got and "default" in got
    assert "the" not in got and "self" not in got


def test_bm25_ranks_the_document_naming_the_term_first() -> None:
    docs = ["def parse_args(ctx): pass", "def show_default(value): return value", "the quick brown fox"]
    top = BM25(docs).top("Where is show_default handled?", 3)
    assert top[0][0] == 1
    assert all(i != 2 for i, _ in top)  # no shared term: not listed


def test_rrf_sums_reciprocal_ranks_and_weights() -> None:
    fused = dict(rrf([["a", "b"], ["b", "c"]], rrf_k=0))
    assert fused == {"a": 1.0, "b": 0.5 + 1.0, "c": 0.5}
    weighted = rrf([["a", "b"], ["b", "a"]], rrf_k=0, weights=[1.0, 3.0])
    assert weighted[0][0] == "b"


def _folder(root: Path) -> Path:
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    for name in ("alpha", "beta", "gamma"):
        body = [f'"""Module {name}."""']
        for i in range(40):
            body += [f"def {name}_helper_{i}(value):", f"    return value + {i}", ""]
        (pkg / f"{name}.py").write_text("\n".join(body))
    (pkg / "beta.py").write_text((pkg / "beta.py").read_text() + "\ndef render_progressbar_eta(seconds):\n"
                                 "    return seconds\n")
    return root


def _store(tmp_path: Path) -> tuple[LearnedContextStore, int]:
    store = LearnedContextStore(InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text"]}))
    loaded = load_context(folder=_folder(tmp_path), include=["*.py"], chunk_size=300, chunk_overlap=0)
    record = store_context(store, "code", loaded)
    return store, record.revision


def test_hybrid_search_finds_an_exact_name_and_cites_the_revision(tmp_path: Path) -> None:
    store, revision = _store(tmp_path)
    pieces = hybrid.search(store.parts, "code", revision, "Fix the ETA shown by render_progressbar_eta", 3, HYBRID)
    assert pieces and pieces[0].source == "pkg/beta.py"
    assert "render_progressbar_eta" in pieces[0].text
    assert pieces[0].score >= pieces[-1].score and len(pieces) <= 3
    dense = hybrid.search(store.parts, "code", revision, "anything", 2, DENSE)
    assert len(dense) == 2  # dense alone: the store's own ranking


def test_part_descriptions_lead_to_their_parts_chunks(tmp_path: Path) -> None:
    store, revision = _store(tmp_path)
    index = store.parts
    chunks = index.manifest("code", revision) or []
    gamma = [c for c in chunks if c.source == "pkg/gamma.py"]
    index.set_parts("code", revision, [("k-gamma", "pkg/gamma.py", gamma[0].start_line, gamma[-1].end_line)])
    question = "Which module parses the terminal colour settings?"
    before = hybrid.search(index, "code", revision, question, 3, HYBRID, descriptions=True)
    assert all(p.source != "pkg/gamma.py" for p in before[:1]) or not before
    index.put_part_notes("code", "k-gamma", "Parses the terminal colour settings. Q: which module parses colour?",
                         "pkg/gamma.py", gamma[0].start_line, gamma[-1].end_line)
    after = hybrid.search(index, "code", revision, question, 3, HYBRID, descriptions=True)
    assert after[0].source == "pkg/gamma.py"
    without = hybrid.search(index, "code", revision, question, 3, HYBRID, descriptions=False)
    assert all(p.source != "pkg/gamma.py" for p in without[:1]) or not without


def test_named_reads_only_names_written_as_code() -> None:
    from sleeptime.large.symbols import named

    got = named("Add ``Choice.get_invalid_choice_message``; fix click.edit typing and the HelpFormatter edit")
    assert got[:3] == ["Choice", "get_invalid_choice_message", "click"]
    assert "edit" in got and "HelpFormatter" in got  # dotted and CamelCase count
    assert named("make the edit command show progress") == []  # plain prose names nothing


def test_definitions_rank_the_defining_chunk_and_skip_common_names() -> None:
    from sleeptime.large.sources import SourceChunk
    from sleeptime.large.symbols import MAX_PLACES, Definitions

    def chunk(source: str, text: str, digest: str) -> SourceChunk:
        return SourceChunk(text, source, 1, 2, digest)

    chunks = [chunk("core.py", "x = Choice(1)\ndef command():\n    pass", "use"),
              chunk("types.py", "class Choice:\n    def convert(self):\n        pass", "def-choice"),
              chunk("termui.py", "def edit(text=None):\n    pass\nDEFAULT = 1", "def-edit")]
    chunks += [chunk(f"m{i}.py", "def convert():\n    pass", f"conv{i}") for i in range(MAX_PLACES)]
    defs = Definitions(chunks)
    assert defs.ranking("Fix `Choice` in click.edit") == ["def-choice", "def-edit"]
    assert defs.ranking("Speed up `convert`") == []  # defined in more than MAX_PLACES chunks
    assert defs.ranking("`DEFAULT` is wrong") == ["def-edit"]  # a module-level assignment defines it


def test_hybrid_search_puts_the_defining_chunk_before_its_users(tmp_path: Path) -> None:
    import dataclasses

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    users = "\n".join(f"def use_{i}(value):\n    return ProgressRenderer(value).render_eta()\n" for i in range(30))
    (pkg / "core.py").write_text(users)
    (pkg / "bar.py").write_text("class ProgressRenderer:\n    def render_eta(self):\n        return 0\n")
    store = LearnedContextStore(InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text"]}))
    record = store_context(store, "code", load_context(folder=tmp_path, include=["*.py"], chunk_size=200,
                                                       chunk_overlap=0))
    question = "Make `ProgressRenderer.render_eta` round to seconds"
    without = hybrid.search(store.parts, "code", record.revision, question, 3,
                            dataclasses.replace(HYBRID, definitions=False))
    with_defs = hybrid.search(store.parts, "code", record.revision, question, 3, HYBRID)
    assert with_defs[0].source == "pkg/bar.py"
    assert without[0].source == "pkg/core.py"  # BM25 and dense favour the many users
