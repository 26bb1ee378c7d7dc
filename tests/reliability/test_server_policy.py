"""The server's auth handlers and file policy, called directly (no server; the real `langgraph dev`
runs in test_server_tenancy.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langgraph_sdk import Auth

from sleeptime.errors import InvalidInputError
from sleeptime.graphs import auth
from sleeptime.nodes.sleep.ingest import check_server_paths

KEYS = {"key-acme-0123456789": "acme"}


def _ctx(action: str, identity: str = "tenant:acme") -> Any:
    return SimpleNamespace(user=SimpleNamespace(identity=identity), action=action, permissions=[])


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_file_ingestion_from_run_input_is_off_by_default(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x")
    for state in ({"files": [str(tmp_path / "a.md")]}, {"folder": str(tmp_path)}):
        with pytest.raises(InvalidInputError, match="off on this server"):
            check_server_paths(state, "acme", env={})  # type: ignore[arg-type]
    check_server_paths({"text": "fine"}, "acme", env={})  # type: ignore[typeddict-item]


def test_roots_per_tenant_and_links_resolved(tmp_path: Path) -> None:
    root = tmp_path / "roots"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "a.md").write_text("x")
    (root / "acme" / "out").symlink_to(tmp_path)
    env = {"SLEEPTIME_SERVER_FILE_ROOTS": str(root / "{tenant}")}
    check_server_paths({"files": [str(root / "acme" / "a.md")]}, "acme", env=env)  # type: ignore[typeddict-item]
    check_server_paths({"folder": str(root / "acme")}, "acme", env=env)  # type: ignore[typeddict-item]
    for tenant, state in (("globex", {"files": [str(root / "acme" / "a.md")]}),
                          ("acme", {"folder": str(root / "acme" / "out")}),
                          ("acme", {"files": [str(root / "acme" / ".." / ".." / "x")]}),
                          ("acme", {"folder": str(root / "acme-evil")})):
        with pytest.raises(InvalidInputError, match="outside the folders this server allows"):
            check_server_paths(state, tenant, env=env)  # type: ignore[arg-type]


def test_keys_must_be_configured_and_match(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLEEPTIME_API_KEYS", raising=False)
    monkeypatch.delenv("SLEEPTIME_API_KEYS_FILE", raising=False)
    with pytest.raises(Auth.exceptions.HTTPException) as none:
        _run(auth.authenticate({b"x-api-key": b"key-acme-0123456789"}, None))
    assert none.value.status_code == 401 and "no API keys configured" in str(none.value.detail)
    monkeypatch.setenv("SLEEPTIME_API_KEYS", json.dumps(KEYS))
    user = _run(auth.authenticate({b"x-api-key": b"key-acme-0123456789"}, None))
    assert user["identity"] == "tenant:acme"
    assert _run(auth.authenticate({}, "Bearer key-acme-0123456789"))["identity"] == "tenant:acme"
    with pytest.raises(Auth.exceptions.HTTPException):
        _run(auth.authenticate({b"x-api-key": b"key-acme-012345678"}, None))
    for bad in ('{"short": "acme"}', '{"key-acme-0123456789": "a.b"}', "not json"):
        with pytest.raises(InvalidInputError):
            auth.load_keys({"SLEEPTIME_API_KEYS": bad})


def test_store_namespaces_are_the_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    own = ("sleeptime", "acme")
    value: dict[str, Any] = {"namespace": (*own, "contexts")}
    _run(auth.own_namespaces_only(_ctx("get"), value))
    for action, namespace in (("get", ("sleeptime", "globex", "contexts")), ("put", ("sleeptime",)),
                              ("search", ("other",)), ("delete", ())):
        with pytest.raises(Auth.exceptions.HTTPException):
            _run(auth.own_namespaces_only(_ctx(action), {"namespace": namespace}))
    for action, namespace in (("search", ()), ("search", ("sleeptime",)), ("list_namespaces", None)):
        value = {"namespace": namespace}
        _run(auth.own_namespaces_only(_ctx(action), value))
        assert value["namespace"] == own
    with pytest.raises(Auth.exceptions.HTTPException):  # Studio, unless a tenant is named for it
        _run(auth.own_namespaces_only(_ctx("get", "langgraph-studio-user"), {"namespace": own}))
    monkeypatch.setenv("SLEEPTIME_STUDIO_TENANT", "acme")
    _run(auth.own_namespaces_only(_ctx("get", "langgraph-studio-user"), {"namespace": own}))


def test_runs_get_the_callers_tenant() -> None:
    value: dict[str, Any] = {"metadata": {}, "kwargs": {"context": {"budget": 2}}}
    assert _run(auth.run_as_own_tenant(_ctx("create_run"), value)) == {"tenant": "acme"}
    assert value["kwargs"]["context"] == {"budget": 2, "tenant": "acme"} and value["metadata"]["tenant"] == "acme"
    with pytest.raises(Auth.exceptions.HTTPException) as caught:
        _run(auth.run_as_own_tenant(_ctx("create_run"), {"metadata": {}, "kwargs": {"context": {"tenant": "x"}}}))
    assert caught.value.status_code == 403
