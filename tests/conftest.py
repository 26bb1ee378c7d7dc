"""Shared test set-up.

Unit tests (everything not marked `integration`) cannot open sockets at all: pytest-socket
is enabled for them here. Integration tests may talk to servers on 127.0.0.1 only.
"""

from __future__ import annotations

import pytest
import pytest_socket


@pytest.fixture(autouse=True)
def _network_policy(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("integration"):
        pytest_socket.enable_socket()
        pytest_socket.socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    else:
        pytest_socket.disable_socket(allow_unix_socket=True)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # No test may pick up a developer's keys, endpoints or tracing.
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
