"""The CLI with --scripted (no model) on a real on-disk Chroma store: every command, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sleeptime.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("sleeptime: error: ")
    return lines[0]


def test_every_command_scripted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", str(tmp_path / "s"), "--scripted"]
    code, out, _ = run(capsys, *store, "ingest", "shop", "--text", "Pens cost $2 each. Alice buys 3 pens.")
    assert code == 0 and "revision 1" in out
    code, out, _ = run(capsys, "sleep", "shop", *store, "--rounds", "1")  # flags after the command too
    assert code == 0 and "published version 1" in out
    code, out, err = run(capsys, *store, "ask", "shop", "How much does a pen cost?")
    assert code == 0 and out.strip() and "[learned, version 1" in err
    code, out, _ = run(capsys, *store, "ask", "shop", "How much does a pen cost?", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["route"] == "learned" and answer["version"] == 1 and "wake_usage" in answer
    code, streamed, _ = run(capsys, *store, "ask", "shop", "How much does a pen cost?", "--stream")
    assert code == 0 and streamed.strip() == answer["answer"].strip()
    code, out, _ = run(capsys, *store, "sleep", "shop")
    code, out, _ = run(capsys, *store, "list")
    assert code == 0 and out.startswith("shop\trevision 1\t") and "\tversion 2\t" in out
    code, out, _ = run(capsys, *store, "list", "--json")
    assert [c["context_id"] for c in json.loads(out)] == ["shop"]
    code, out, _ = run(capsys, *store, "show", "shop")
    assert code == 0 and "published: version 2" in out and "* version 2" in out and "  version 1" in out
    notes = out.split("--- notes of version 2 ---\n", 1)[1]
    assert notes.strip(), "show prints the published notes themselves"
    assert "    Q: " in out, "and the predicted questions"
    assert "Q: What are the key numbers?" in out
    code, out, _ = run(capsys, *store, "show", "shop", "--json")
    assert [v["version"] for v in json.loads(out)["versions"]] == [1, 2]
    code, out, _ = run(capsys, *store, "delete", "shop", "--version", "2")
    assert code == 0 and out.strip() == "deleted version 2 of 'shop'"
    code, out, _ = run(capsys, *store, "show", "shop")
    assert "published: version 1" in out
    code, out, _ = run(capsys, *store, "delete", "shop")
    assert code == 0 and run(capsys, *store, "list")[1] == ""
    code, out, _ = run(capsys, *store, "demo", "--rounds", "1")
    assert code == 0
    code, out, _ = run(capsys, *store, "timeline")
    assert code == 0 and "version 2  published" in out


def test_tenant_flag_scopes_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", str(tmp_path / "s"), "--scripted"]
    assert run(capsys, *store, "--tenant", "acme", "ingest", "shop", "--text", "Pens cost $2.")[0] == 0
    assert run(capsys, *store, "list")[1] == ""
    assert run(capsys, *store, "list", "--tenant", "acme")[1].startswith("shop\t")


@pytest.mark.parametrize(("argv", "message"), [
    (["--store", "/proc/x", "ask", "shop", "How much?"], "sleeptime: error: "),
    (["show", "nowhere"], "no context 'nowhere' for tenant 'default'"),
    (["delete", "nowhere"], "no context 'nowhere'"),
    (["ask", "shop", "How much?", "--set", "budgett=2"], "unknown config key(s) ['budgett']; known keys: "),
    (["ask", "shop", "How much?", "--set", "nonsense"], "--set takes KEY=VALUE"),
    (["sleep", "shop", "--rounds", "0"], "max_rounds must be an int >= 1"),
    (["ingest", "shop", "missing.txt"], "no such file"),
])
def test_errors_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = argv if "--store" in argv else ["--store", str(tmp_path / "s"), *argv]
    code, _, err = run(capsys, "--scripted", *argv)
    assert code == 2
    assert message in one_line_error(err)


def test_usage_errors_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "shop", "How much?", "--mode", "testtime"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "invalid choice: 'testtime'" in err and err.startswith("sleeptime ask: error:")


def test_sleep_rounds_are_a_maximum_and_extend_runs_them_all(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", str(tmp_path / "s"), "--scripted"]
    assert run(capsys, *store, "ingest", "shop", "--text", "Pens cost $2 each. Alice buys 3 pens.")[0] == 0
    # The scripted notes end with STATUS: DONE: the default rethink stops after round 1; extend runs all 3.
    code, out, _ = run(capsys, *store, "sleep", "shop", "--rounds", "3")
    assert code == 0 and "(2 calls)" in out, out  # 1 reflect round + predict
    code, out, _ = run(capsys, *store, "sleep", "shop", "--rounds", "3", "--rethink", "extend")
    assert code == 0 and "(4 calls)" in out, out  # 3 reflect rounds + predict
    assert "published version 2" in out
