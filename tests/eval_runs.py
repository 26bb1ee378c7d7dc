"""Run directories written by hand for the evals table and figure tests: what `python -m evals <experiment>` leaves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_run(run: Path, experiment: str, records: list[dict[str, Any]], *, torn: bool = False,
              **options: Any) -> None:
    """``run.json`` and ``records.jsonl`` of a run; ``torn`` ends the records with a killed run's half line."""
    run.mkdir(parents=True)
    meta = {"experiment": experiment, "options": {"dataset": "tiny", "model": "scripted", "weight": 10, **options},
            "invocations": [{"command": f"python -m evals {experiment}", "at": "now",
                             "machine": {"cpu_count": 2, "load_at_start": [1.0]}}]}
    (run / "run.json").write_text(json.dumps(meta))
    tail = '{"key": "torn' if torn else ""
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
