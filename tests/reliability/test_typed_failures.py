"""Every input issue 30 (item 9) found failing untyped now raises the package's typed error naming the field."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.cli import main
from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError, ModelCallError, SleepTimeError
from sleeptime.facade import SleepTime
from sleeptime.stores import ChromaStore
from sleeptime.testing import HashEmbeddings, ScriptedChatModel
from tests.scripts import staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens."


def _app(model: ScriptedChatModel | None = None) -> SleepTime:
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    m = model or staged_model()
    return SleepTime(store=store, sleep_model=m, wake_model=m, max_rounds=1)


@pytest.mark.parametrize("call", ["ingest", "sleep"])
def test_a_lone_surrogate_in_text_is_invalid_input(call: str) -> None:
    app = _app()
    with pytest.raises(InvalidInputError, match=r"text is not valid Unicode text: a lone surrogate U\+D800"):
        getattr(app, call)("shop", "Pens cost \ud800 $2.")
    assert app.contexts() == []


def test_a_lone_surrogate_reaching_the_graph_is_invalid_input() -> None:
    app = _app()  # what a server run's input goes through: the ingest node, not the facade
    with pytest.raises(InvalidInputError, match="text is not valid Unicode"):
        app.sleep_graph.invoke({"context_id": "shop", "text": "a\udcffb"}, context=app.config)


def test_a_question_with_a_lone_surrogate_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="question is not valid Unicode"):
        _app().ask("How \udcff much?", mode="test-time")


@pytest.mark.parametrize("text", [b"Pens cost $2.", 42, ["Pens"]])
@pytest.mark.parametrize("call", ["ingest", "sleep"])
def test_text_that_is_not_a_string_is_invalid_input(call: str, text: object) -> None:
    with pytest.raises(InvalidInputError, match="text must be a string"):
        getattr(_app(), call)("shop", text)


@pytest.mark.parametrize(("state", "says"), [
    ({"text": 42}, "text must be a string"),
    ({"files": "a.txt"}, "files must be a list"),
    ({"files": [7]}, r"files\[0\] must be a path"),
    ({"folder": 7}, "folder must be a path"),
    ({"folder": ".", "include": "*.py"}, "include must be a list"),
])
def test_bad_run_inputs_are_invalid_input(state: dict[str, object], says: str) -> None:
    app = _app()
    with pytest.raises(InvalidInputError, match=says):
        app.sleep_graph.invoke({"context_id": "shop", **state}, context=app.config)


@pytest.mark.parametrize("where", ["context_id", "tenant"])
def test_nul_in_an_id_is_invalid_input(where: str) -> None:
    app = _app()
    call = (lambda: app.ingest("a\x00b", CONTEXT)) if where == "context_id" else (
        lambda: app.ingest("shop", CONTEXT, tenant="a\x00b"))
    with pytest.raises(InvalidInputError, match=f"{where} 'a\\\\x00b' contains the non-printable character U\\+0000"):
        call()


@pytest.mark.parametrize("call", ["sleep", "ask"])
def test_model_exceptions_are_wrapped_with_the_cause(call: str) -> None:
    down = ConnectionError("connection refused by the model server")
    app = _app(ScriptedChatModel(replies=[down], cycle=True))
    if call == "ask":
        app.ingest("shop", CONTEXT)
    run = (lambda: app.sleep("shop", CONTEXT)) if call == "sleep" else (
        lambda: app.ask("How much?", "shop", mode="test-time"))
    with pytest.raises(ModelCallError, match="the model call failed: ConnectionError: connection refused") as caught:
        run()
    assert caught.value.__cause__ is down and isinstance(caught.value, SleepTimeError)


def test_chat_graph_model_exceptions_are_wrapped() -> None:
    from langchain_core.messages import HumanMessage

    from sleeptime.graphs.chat import build_chat_graph

    boom = RuntimeError("out of memory")
    model = ScriptedChatModel(replies=[boom], cycle=True)
    graph = build_chat_graph().compile()
    with pytest.raises(ModelCallError, match="respond: the model call failed: RuntimeError") as caught:
        graph.invoke({"messages": [HumanMessage("hi")]}, context=SleepTimeConfig(wake_model=model))
    assert caught.value.__cause__ is boom


@pytest.mark.parametrize(("name", "value"), [
    ("temperature", math.nan), ("sample_temperature", math.inf), ("temperature", -math.inf),
    ("sample_temperature", math.nan),
])
def test_non_finite_temperatures_are_invalid_input(name: str, value: float) -> None:
    with pytest.raises(InvalidInputError, match=f"{name} must be a finite number"):
        SleepTimeConfig.from_mapping({name: value})
    with pytest.raises(InvalidInputError, match=name):
        _app().sleep("shop", CONTEXT, **{name: value})  # type: ignore[misc]


def test_cli_invalid_utf8_text_is_a_typed_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = os.fsdecode(b"Pens cost \xff$2.")  # what argv holds for invalid UTF-8 (surrogateescape)
    assert main(["--scripted", "--store", str(tmp_path / "s"), "ingest", "shop", "--text", raw]) == 2
    err = capsys.readouterr().err
    assert "text is not valid Unicode text" in err and "UnicodeEncodeError" not in err


def test_cli_set_tenant_and_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--scripted", "--store", str(tmp_path / "s")]
    assert main([*store, "--set", "tenant=acme", "ingest", "shop", "--text", CONTEXT]) == 0
    assert main([*store, "--set", "sleep_model=scripted", "--set", "wake_model=scripted",
                 "--set", "tenant=acme", "sleep", "shop", "--rounds", "1"]) == 0
    capsys.readouterr()
    assert main([*store, "--tenant", "acme", "list"]) == 0
    assert "shop" in capsys.readouterr().out
    assert main([*store, "list"]) == 0
    assert "shop" not in capsys.readouterr().out  # --set tenant=acme went to tenant acme, not default
    assert main([*store, "--set", "path=/tmp/x", "list"]) == 2
    assert "unknown config key(s) ['path']" in capsys.readouterr().err


@pytest.fixture
def chroma(tmp_path: Path) -> ChromaStore:
    store = ChromaStore(path=tmp_path / "c")
    store.put(("a",), "k", {"x": 1})
    return store


@pytest.mark.parametrize("bad", [[("x", 1)], "x", 5])
def test_chroma_search_filter_that_is_not_a_mapping(chroma: ChromaStore, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="filter must be a mapping"):
        chroma.search(("a",), filter=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"offset": 10**19}, "offset"), ({"limit": 10**19}, "limit"), ({"offset": -(10**19)}, "offset"),
    ({"limit": "3"}, "limit"),
])
def test_chroma_page_bounds(chroma: ChromaStore, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"{field} must be an int"):
        chroma.search(("a",), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=f"{field} must be an int"):
        chroma.list_namespaces(**kwargs)  # type: ignore[arg-type]
    assert [i.key for i in chroma.search(("a",))] == ["k"]


def test_links_fifos_and_sockets_are_listed_as_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("Pens cost $2 each.")
    secret = tmp_path / "secret.txt"
    secret.write_text("the password is hunter2")
    (folder / "escape.txt").symlink_to(secret)
    (folder / "inner.md").symlink_to(folder / "a.md")
    os.mkfifo(folder / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "sock"))
        result = _app().ingest("docs", folder=folder)
    finally:
        sock.close()
    reasons = {s.path: s.reason for s in result.skipped}
    assert result.sources == ["a.md"]
    assert reasons["escape.txt"].startswith("symbolic link") and reasons["inner.md"].startswith("symbolic link")
    assert reasons["pipe"] == "not a regular file: a FIFO" and reasons["sock"] == "not a regular file: a socket"


def test_a_device_is_listed_as_skipped(tmp_path: Path) -> None:
    from sleeptime.large.sources import load_folder

    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.md").write_text("text")
    try:
        os.mknod(folder / "null", 0o600 | 0o020000, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs privileges here")
    skipped = {s.path: s.reason for s in load_folder(folder).skipped}
    assert skipped == {"null": "not a regular file: a character device"}
