"""The prompt-state cache: keys, versions, damaged files, size limits; and the restore decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.messages import AIMessage

from sleeptime.errors import InvalidInputError
from sleeptime.local import kv_state
from sleeptime.local.prefix_cache import PrefixCache, PrefixKey, PrefixState
from sleeptime.usage import record_usage, summarize_usage

MODEL_ID = "model.gguf"


@pytest.fixture
def model_file(tmp_path: Path) -> str:
    path = tmp_path / MODEL_ID
    path.write_bytes(b"weights")
    return str(path)


def _entry(seed: int, n_tokens: int = 50, n_bytes: int = 1000) -> PrefixState:
    rng = np.random.default_rng(seed)
    return PrefixState(tokens=tuple(range(seed, seed + n_tokens)), state=rng.bytes(n_bytes))


def test_round_trip_through_memory_and_disk(tmp_path: Path, model_file: str) -> None:
    cache = PrefixCache(tmp_path / "states")
    key = PrefixKey("t", "c", 1)
    entry = _entry(1)
    cache.put(key, model_file, 512, entry)
    assert cache.get(key, model_file, 512) == entry
    cache.forget_memory()
    assert cache.memory_bytes == 0
    assert cache.get(key, model_file, 512) == entry, "read back from disk"
    assert cache.memory_bytes == entry.nbytes, "and remembered in memory again"
    # Every key component matters.
    assert cache.get(PrefixKey("t2", "c", 1), model_file, 512) is None
    assert cache.get(PrefixKey("t", "c2", 1), model_file, 512) is None
    assert cache.get(PrefixKey("t", "c", 2), model_file, 512) is None
    assert cache.get(key, model_file, 1024) is None


def test_a_replaced_model_file_misses(tmp_path: Path, model_file: str) -> None:
    cache = PrefixCache(tmp_path / "states")
    key = PrefixKey("t", "c", 1)
    cache.put(key, model_file, 512, _entry(1))
    Path(model_file).write_bytes(b"other weights, other size")
    assert cache.get(key, model_file, 512) is None


def test_a_new_version_drops_the_old_state(tmp_path: Path, model_file: str) -> None:
    cache = PrefixCache(tmp_path / "states")
    old, new, other = PrefixKey("t", "c", 1), PrefixKey("t", "c", 2), PrefixKey("t", "d", 1)
    cache.put(old, model_file, 512, _entry(1))
    cache.put(other, model_file, 512, _entry(3))
    assert cache.drop_other_versions("t", "c", keep_version=2) == 2  # memory and file
    cache.put(new, model_file, 512, _entry(2))
    assert cache.get(old, model_file, 512) is None
    cache.forget_memory()
    assert cache.get(old, model_file, 512) is None
    assert cache.get(new, model_file, 512) == _entry(2)
    assert cache.get(other, model_file, 512) == _entry(3), "another context keeps its state"


def _only_file(cache: PrefixCache) -> Path:
    assert cache.directory is not None
    (path,) = cache.directory.glob("*.kv")
    return path


@pytest.mark.parametrize("damage", ["missing", "truncated", "flipped", "foreign", "garbage", "empty"])
def test_a_bad_file_reads_as_a_miss(tmp_path: Path, model_file: str, damage: str) -> None:
    cache = PrefixCache(tmp_path / "states")
    key, foreign = PrefixKey("t", "c", 1), PrefixKey("t", "other", 1)
    cache.put(key, model_file, 512, _entry(1))
    path = _only_file(cache)
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(data[: len(data) - 10])
    elif damage == "flipped":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    elif damage == "foreign":  # another context's valid file under this name
        side = PrefixCache(tmp_path / "side")
        side.put(foreign, model_file, 512, _entry(1))
        path.write_bytes(_only_file(side).read_bytes())
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 100)
    else:
        path.write_bytes(b"")
    cache.forget_memory()
    assert cache.get(key, model_file, 512) is None


def test_memory_tier_respects_its_limit_least_recently_used_first(tmp_path: Path, model_file: str) -> None:
    entry_bytes = _entry(0).nbytes
    cache = PrefixCache(None, max_memory_bytes=3 * entry_bytes)
    keys = [PrefixKey("t", f"c{i}", 1) for i in range(5)]
    for i, key in enumerate(keys[:3]):
        cache.put(key, model_file, 512, _entry(i))
    assert cache.get(keys[0], model_file, 512) is not None  # c0 is now the most recent
    for i, key in enumerate(keys[3:], start=3):
        cache.put(key, model_file, 512, _entry(i))
        assert cache.memory_bytes <= 3 * entry_bytes
    present = [k.context_id for k in keys if cache.get(k, model_file, 512) is not None]
    assert present == ["c0", "c3", "c4"]


def test_disk_tier_respects_its_limit(tmp_path: Path, model_file: str) -> None:
    limit = 5000
    cache = PrefixCache(tmp_path / "states", max_memory_bytes=0, max_disk_bytes=limit)
    for i in range(10):
        cache.put(PrefixKey("t", f"c{i}", 1), model_file, 512, _entry(i))
        assert 0 < cache.disk_bytes() <= limit
    assert cache.memory_bytes == 0
    assert cache.get(PrefixKey("t", "c9", 1), model_file, 512) == _entry(9), "the newest survives"
    assert cache.get(PrefixKey("t", "c0", 1), model_file, 512) is None


def test_negative_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        PrefixCache(tmp_path, max_memory_bytes=-1)


class _FakeLlama:
    """What kv_state touches of llama_cpp.Llama: the token buffer and generate."""

    def __init__(self, held: list[int]) -> None:
        self.input_ids = np.zeros(4096, dtype=np.intc)
        self.input_ids[: len(held)] = held
        self.n_tokens = len(held)
        self.seen: list[int] = []

    def generate(self, tokens: list[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        self.seen = list(tokens)
        yield 7


def _fake_restore(llama: _FakeLlama, entry: PrefixState) -> bool:
    llama.input_ids[: len(entry.tokens)] = entry.tokens
    llama.n_tokens = len(entry.tokens)
    return True


@pytest.mark.parametrize(
    ("held", "saved", "restored", "cached"),
    [
        ([], list(range(100)), True, 100),  # empty context: load the state
        (list(range(100)), list(range(100)), False, 100),  # the context already holds it
        (list(range(90)), list(range(100)), False, 90),  # gain under MIN_GAIN: not worth a load
        ([1, 2, 3], [9] * 100, False, 0),  # a state of another prompt is never loaded
        ([], list(range(60)) + [999] * 40, True, 60),  # shares 60 tokens: loaded, generate trims the rest
    ],
)
def test_restore_only_when_it_saves_prefill(
    monkeypatch: pytest.MonkeyPatch, held: list[int], saved: list[int], restored: bool, cached: int
) -> None:
    monkeypatch.setattr(kv_state, "restore", _fake_restore)
    llama = _FakeLlama(held)
    prompt = list(range(120))
    entry = PrefixState(tokens=tuple(saved), state=b"kv")
    with kv_state.reusing_prefix(llama, lambda: entry) as reuse:
        assert list(llama.generate(prompt)) == [7]
    assert "generate" not in vars(llama), "the wrapper is removed"
    assert llama.seen == prompt
    assert (reuse.restored, reuse.cached_tokens, reuse.prompt_tokens) == (restored, cached, 120)


def test_common_prefix() -> None:
    assert kv_state.common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert kv_state.common_prefix([], [1]) == 0
    assert kv_state.common_prefix([1, 2], [1, 2, 3]) == 2


def test_cached_input_tokens_are_recorded_and_summed() -> None:
    reply = AIMessage(
        "x",
        usage_metadata={"input_tokens": 500, "output_tokens": 5, "total_tokens": 505,
                        "input_token_details": {"cache_read": 450}},
    )
    plain = AIMessage("y", usage_metadata={"input_tokens": 100, "output_tokens": 5, "total_tokens": 105})
    records = [record_usage(reply, phase="wake", node="answer"), record_usage(plain, phase="wake", node="answer")]
    assert records[0].get("cache_read_tokens") == 450
    assert "cache_read_tokens" not in records[1]
    total = summarize_usage(records)
    assert (total.input_tokens, total.cache_read_tokens) == (600, 450)
