"""A full disk (issue 30, item 7): writes fail typed, and once space is back the same process's next
write succeeds (it used to hang in Chroma's next upsert for over 90 s)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sleeptime.errors import StoreError
from sleeptime.stores import ChromaStore
from tests.store_suite import index_config

ROOT = Path(__file__).resolve().parents[2]


class _DiskFullOnce:
    """A Chroma collection whose next `upsert` fails as SQLite does on a full disk."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.failed = inner, False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != "upsert" or self.failed:
            return attr

        def fail(*args: Any, **kwargs: Any) -> Any:
            self.failed = True
            raise RuntimeError("Query error: Database error: error returned from database: (code: 13) "
                               "database or disk is full")

        return fail


def test_a_full_disk_is_typed_and_the_next_operation_reopens(tmp_path: Path) -> None:
    store = ChromaStore(path=tmp_path, index=index_config(["text"]))
    store.put(("a",), "k0", {"text": "hello"})
    broken = store._items = _DiskFullOnce(store._items)
    with pytest.raises(StoreError, match="the disk is full"):
        store.put(("a",), "k1", {"text": "x"})
    assert broken.failed and store._broken
    store.put(("a",), "k2", {"text": "after"})  # on a fresh client: the wrapped collection is gone
    assert store._items is not broken and not store._broken
    assert [i.key for i in store.search(("a",))] == ["k0", "k2"]


def _tmpfs(where: Path) -> bool:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_disk_then_freed_space(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    if not _tmpfs(disk):
        pytest.skip("cannot mount a tmpfs here")
    try:
        code = textwrap.dedent(f"""
            import os
            from sleeptime.errors import StoreError
            from sleeptime.stores import ChromaStore
            from sleeptime.testing import HashEmbeddings
            s = ChromaStore(path={str(disk / "store")!r}, index={{"dims": 64, "embed": HashEmbeddings(64)}})
            s.put(("a",), "k0", {{"text": "hello"}})
            with open({str(disk / "filler")!r}, "wb") as f:
                try:
                    while True:
                        f.write(b"\\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            typed = 0
            for i in range(3):
                try:
                    s.put(("a",), f"big{{i}}", {{"text": "x" * 200000}})
                except StoreError as error:
                    typed += "disk is full" in str(error)
            os.unlink({str(disk / "filler")!r})
            s.put(("a",), "after", {{"text": "after"}})
            print(typed, sorted(i.key for i in s.search(("a",), limit=10)))
        """)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                              env={"PYTHONPATH": str(ROOT), "ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split("\n")[-2] == "3 ['after', 'k0']"
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
