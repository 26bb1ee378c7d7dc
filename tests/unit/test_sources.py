"""Folder ingest: globs, .gitignore, binary and oversized files, language-aware splits with spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleeptime.errors import InvalidInputError, UnreadableFileError
from sleeptime.large.sources import load_folder, split_source


def _tree(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "core.py").write_text("def add(a, b):\n    return a + b\n\n\nclass Box:\n    size = 3\n")
    (root / "pkg" / "notes.md").write_text("# Notes\n\nBoxes hold 3 items.\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("generated = True\n")
    (root / "pkg" / "secret.env").write_text("TOKEN=x\n")
    (root / ".gitignore").write_text("build/\n")
    (root / "pkg" / ".gitignore").write_text("*.env\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    (root / "big.txt").write_text("x" * 5000)
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))


def test_folder_honours_gitignore_at_every_depth_and_skips_binary_and_huge_files(tmp_path: Path) -> None:
    _tree(tmp_path)
    got = load_folder(tmp_path, max_bytes=4000)
    assert got.files == ["pkg/core.py", "pkg/notes.md"]
    reasons = {s.path: s.reason for s in got.skipped}
    assert reasons["logo.png"] == "binary"
    assert reasons["big.txt"].startswith("larger than 4000 bytes")
    assert "latin1.txt" in reasons
    assert not any(s.path.startswith("build/") or s.path.endswith(".env") for s in got.skipped)


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert load_folder(tmp_path, include=["*.py"]).files == ["pkg/core.py"]
    assert load_folder(tmp_path, include=["*.py", "*.md"], exclude=["notes.md"]).files == ["pkg/core.py"]


def test_python_splits_at_definitions_with_line_spans(tmp_path: Path) -> None:
    source = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(30))
    chunks = split_source(source, "mod.py", chunk_size=120, chunk_overlap=0)
    assert len(chunks) > 1
    lines = source.splitlines()
    for chunk in chunks:
        assert chunk.text.lstrip().startswith("def ")  # code splits at definitions
        span_text = "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        assert chunk.text in span_text, chunk.span
    assert chunks[0].start_line == 1


def test_digest_changes_only_for_changed_parts() -> None:
    a = split_source("alpha " * 50 + "\n\n" + "beta " * 50, "a.txt", chunk_size=260, chunk_overlap=0)
    b = split_source("alpha " * 50 + "\n\n" + "gamma " * 50, "a.txt", chunk_size=260, chunk_overlap=0)
    assert a[0].digest == b[0].digest
    assert a[-1].digest != b[-1].digest
    assert split_source("same", "x.txt")[0].digest != split_source("same", "y.txt")[0].digest


def test_bad_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="not a folder"):
        load_folder(tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="max_bytes"):
        load_folder(tmp_path, max_bytes=0)
    with pytest.raises(InvalidInputError, match="chunk_size"):
        split_source("x", "a.txt", chunk_size=0)
