"""A run directory on disk: ``records.jsonl`` (committed), ``texts.jsonl`` beside it (git-ignored) and ``run.json``.

Records are appended one line at a time and flushed (write-ahead): a killed run leaves at most one partial
last line, which :func:`read_records` ignores and :class:`RecordWriter` cuts off before appending again.
Nothing here runs a model, so ``python -m evals plot`` needs only this and the tables.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evals.options import RunOptions
from evals.provenance import commit, settings_hash

RECORDS_FILE = "records.jsonl"
TEXTS_FILE = "texts.jsonl"
RUN_FILE = "run.json"
#: Model-written text, kept beside the records in TEXTS_FILE (git-ignored): the notes and answers of
#: small models copy the problem text, and GSM-Symbolic is NoDerivatives, so it must not be committed.
#: ``sample_notes``: a sleep's k samples before the merge, so a replay can merge them by another rule.
TEXT_FIELDS = ("answer", "learned", "sample_notes", "predicted", "match_reason", "error_detail")

Record = dict[str, Any]




def read_jsonl(p: Path) -> list[Record]:
    """The complete records of a JSONL file ([] when absent); an unterminated last line (a write in progress or
    a killed append) is skipped, a corrupt line elsewhere is an error naming the line."""
    if not p.exists():
        return []
    out: list[Record] = []
    lines = p.read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # the unterminated tail of a killed append
                break
            raise ValueError(f"{p}:{i + 1}: corrupt record line") from None
        if isinstance(row, dict):
            out.append(row)
    return out


def read_records(path: str | os.PathLike[str]) -> list[Record]:
    """Every complete record of a JSONL file, with its model text from the TEXTS_FILE beside it when present.

    A torn (unterminated, unparsable) last line is ignored.
    """
    p = Path(path)
    records = read_jsonl(p)
    texts = {str(t.pop("key")): t for t in read_jsonl(p.with_name(TEXTS_FILE)) if "key" in t}
    for r in records:
        r.update(texts.get(str(r.get("key")), {}))
    return records


def _repair_tail(p: Path) -> None:
    """Cut an unterminated last line (a killed write) so the next append starts on a fresh line."""
    if not p.exists() or p.stat().st_size == 0:
        return
    with p.open("rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        try:
            json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            fh.truncate(cut)
            return
        fh.seek(0, os.SEEK_END)
        fh.write(b"\n")  # a complete record that only lacked its newline


class RecordWriter:
    """Appends records to a JSONL file, one flushed line each, safe across threads.

    TEXT_FIELDS go to the TEXTS_FILE beside it, written first, so a record never lacks its text.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.texts_path = self.path.with_name(TEXTS_FILE)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(self.path)
        _repair_tail(self.texts_path)
        self._lock = threading.Lock()
        self._fsync = fsync

    def _append(self, path: Path, row: Mapping[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            fh.flush()
            if self._fsync:
                os.fsync(fh.fileno())

    def write(self, record: Mapping[str, Any]) -> None:
        texts = {k: record[k] for k in TEXT_FIELDS if k in record}
        rest = {k: v for k, v in record.items() if k not in texts}
        with self._lock:
            if texts:
                self._append(self.texts_path, {"key": record.get("key"), **texts})
            self._append(self.path, rest)


def machine_info() -> dict[str, Any]:
    load: list[float] = []
    with contextlib.suppress(OSError):
        load = [round(x, 2) for x in os.getloadavg()]
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "load_at_start": load,
    }


def write_run_file(opts: RunOptions, argv: Sequence[str] | None = None) -> Path:
    """run.json: the options, the exact command line and the machine. Kept from the first run, with later
    (resume) commands appended."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUN_FILE
    command = " ".join(["python -m evals", *(argv if argv is not None else sys.argv[1:])])
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    invocation = {"command": command, "at": now, "machine": machine_info(), "commit": commit(),
                  "settings_hash": settings_hash(asdict(opts))}
    # Shards of one run start side by side: the read-append-write holds a lock on the folder, and the file is
    # replaced whole, so no process ever reads another's half-written run.json.
    folder = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            data.setdefault("invocations", []).append(invocation)
            data["options"] = asdict(opts)
        else:
            data = {"experiment": opts.experiment, "options": asdict(opts), "invocations": [invocation]}
        partial = path.with_name(f".{RUN_FILE}.{os.getpid()}")
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    finally:
        os.close(folder)  # releases the lock
    return path


def read_run_file(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: not a run directory")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


