"""The `sleeptime` command on a real on-disk Chroma store (no model is needed for these paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleeptime.cli import main


def test_ingest_then_unknown_context_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "store")
    assert main(["--store", store, "ingest", "shop", "--text", "Pens cost $2 each. Alice buys 3 pens."]) == 0
    assert "ingested 'shop': revision 1, 1 chunk(s)" in capsys.readouterr().out
    assert main(["--store", store, "ask", "nowhere", "How much?"]) == 2
    assert "no context 'nowhere' for tenant 'default'" in capsys.readouterr().err


def test_missing_file_fails_and_keeps_the_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "store")
    assert main(["--store", store, "ingest", "shop", "--text", "Pens cost $2 each."]) == 0
    assert main(["--store", store, "ingest", "shop", str(tmp_path / "missing.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["--store", store, "ask", "shop", "How much?", "--set", "unslept_fallback=false"]) == 2
    assert "run sleep first" in capsys.readouterr().err  # the context is still there, unslept


def test_timeline_scripted_shows_answers_from_each_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["timeline", "--scripted"]) == 0
    out = capsys.readouterr().out
    assert out.index("sleep_started") < out.index("version 1  published") < out.index("version 2  published")
    assert "answered from version 1 while the new context waits for idle" in out
