"""The wheel stands alone: built from the repository, installed into a fresh virtualenv, it runs the
quickstart on the scripted model with no repository on the path.

The install takes its dependencies from the package registry (or pip's cache): about 40 s with a
warm cache on a 2-core machine, the whole test about a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WHEEL_SOURCES = ["pyproject.toml", "README.md", "LICENSE", "sleeptime"]
"""What the wheel is built from; copying only these keeps a stale build/ of the checkout out of it."""

QUICKSTART = """\
import sys

import sleeptime
from sleeptime import SleepTime
from sleeptime.testing import HashEmbeddings

st = SleepTime(path=sys.argv[1], embeddings=HashEmbeddings(64), sleep_model="scripted", wake_model="scripted")
st.ingest("shop", "A shop sells pens at $2 each. Alice buys 3 pens and a $4 notebook.")
slept = st.sleep("shop")
answer = st.ask("How much does one pen cost?", "shop")
print("published:", slept.published, slept.version)
print("answer:", answer.answer)
print("module:", sleeptime.__file__)
"""


def _env() -> dict[str, str]:
    # Nothing of this checkout's environment may leak into the fresh one.
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}


def _run(args: list[str | Path], cwd: Path, timeout: int) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _build_wheel(tmp_path: Path) -> Path:
    source, dist = tmp_path / "source", tmp_path / "dist"
    for name in WHEEL_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, source], cwd=tmp_path, timeout=300)
    [wheel] = dist.glob("sleeptime-*.whl")
    return wheel


def test_the_wheel_installs_into_a_fresh_virtualenv_and_runs_the_quickstart(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: MIT" in archive.read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "sleeptime/py.typed" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path, timeout=120)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path, timeout=600)

    work = tmp_path / "work"  # outside the repository, so nothing is imported from the checkout
    work.mkdir()
    (work / "quickstart.py").write_text(QUICKSTART)
    # -I: no PYTHONPATH, no user site-packages, not even the script's folder on the path.
    out = _run([python, "-I", "quickstart.py", work / "store"], cwd=work, timeout=180)
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert lines["published"] == "True 1"
    assert lines["answer"] == "From my notes: key_number_1 = 2"
    module = Path(lines["module"]).resolve()
    assert module.is_relative_to(venv.resolve()) and "site-packages" in module.parts
    assert not module.is_relative_to(REPO)

    assert "sleep" in _run([venv / "bin" / "sleeptime", "--help"], cwd=work, timeout=60)  # the console script
