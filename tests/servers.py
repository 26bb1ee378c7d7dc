"""Real servers for integration tests, on 127.0.0.1 only: `chroma run`, `langgraph dev` and llama-cpp-python's
OpenAI-compatible server."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]

#: API keys of the test tenants for the project's langgraph.json (its auth: `sleeptime.graphs.auth`).
KEYS = {"acme": "test-key-acme-0123456789", "globex": "test-key-globex-0123456789"}
AUTH_ENV = {"SLEEPTIME_API_KEYS": json.dumps({key: tenant for tenant, key in KEYS.items()})}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class ChromaServer:
    """`chroma run` on a data folder and port; stop and start again to test restarts."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path, self.port = path, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not _answers(f"{self.url}/api/v2/heartbeat"):
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma server did not answer its heartbeat within {timeout:.0f} s")
            time.sleep(0.1)  # polling a starting server

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
        self.proc = None


@contextmanager
def langgraph_dev(workdir: Path, *, config: Path | None = None, env: dict[str, str] | None = None,
                  timeout: float = 180) -> Iterator[str]:
    """A `langgraph dev` server (offline, no browser, no reload); yields its URL.

    It silently picks another port when the one asked for is taken, so readiness is checked on
    the port asked for and a server elsewhere fails the check.
    """
    port = free_port()
    log_path = workdir / "langgraph-dev.log"
    full_env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "1",
        "LANGSMITH_TRACING": "false",
        **(env or {}),
    }
    args = [str(BIN / "langgraph"), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    if config is not None:
        args += ["--config", str(config)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, cwd=workdir, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(f"{url}/ok"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"langgraph dev did not serve on {url}:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)  # polling a starting server
        yield url
    finally:
        _stop(proc)


@contextmanager
def llama_cpp_server(model_path: Path, *, n_ctx: int = 2048, alias: str = "qwen", core: int = 1,
                     timeout: float = 120, module: str = "llama_cpp.server") -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on 127.0.0.1, one thread,
    pinned to `core` at lower priority (long eval runs share the machine); yields its ``/v1`` URL.
    ``module="sleeptime.local.server"``: the same server reporting cached tokens and its window.

    ``--cache true`` keeps prompt states in RAM, so a warmed prefix survives an unrelated request.
    """
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-cpp-server-{port}.log"
    args = ["nice", "-n", "5", "taskset", "-c", str(core), sys.executable, "-m", module,
            "--model", str(model_path), "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
            "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", str(n_ctx), "--cache", "true"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(f"{url}/v1/models"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not serve on {url}:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)  # polling a starting server
        yield f"{url}/v1"
    finally:
        _stop(proc)


#: The model servers' window, model alias and a small shop context their tests sleep on.
SERVER_N_CTX = 2048
SERVER_SPEC = "openai:qwen"
SHOP = ("Alice buys 3 apples at $2 each and 2 pears at $4 each. The shop gives $1 off any order over $10. "
        "Bob buys 1 apple and 1 pear.")


def require_llama_cpp_server() -> None:
    """Skip the calling test module (at import) where llama-cpp-python or its ``[server]`` extra is missing."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed", allow_module_level=True)
    try:
        import llama_cpp.server.app  # noqa: F401  (its [server] extra: fastapi, uvicorn, sse-starlette, ...)
    except ImportError as exc:
        pytest.skip(f"llama_cpp.server cannot import ({exc}); pip install 'llama-cpp-python[server]'",
                    allow_module_level=True)


@contextmanager
def qwen_server(module: str = "llama_cpp.server") -> Iterator[str]:
    """The 0.5B behind `llama_cpp_server` with `SERVER_N_CTX` (``module``: the stock server or the launcher)."""
    from sleeptime.local.gguf import ensure_gguf

    with llama_cpp_server(Path(ensure_gguf("qwen2.5-coder-0.5b", progress=False)), n_ctx=SERVER_N_CTX,
                          module=module) as url:
        yield url
