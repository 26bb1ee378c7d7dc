"""What produced a record: the code's commit and a hash of the settings that change a measurement.

Every runner record carries both, so records from different code or settings cannot be mixed up unseen when a
run is resumed or results are compared.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Left out of the settings hash: where or how fast a run goes, and the grid and aggregation options (budget
#: levels, samples, bins, weight...), which each record states for itself or which only change the tables. So a
#: resume that adds a budget level keeps the hash; one that changes a model or a token cap does not.
NOT_SETTINGS = frozenset({"out", "progress", "concurrency", "limit", "data_dir", "cache_dir", "from_run",
                          "budgets", "sleep_budgets", "scale_samples", "scale_rounds", "scale_settings", "k",
                          "queries", "guesses", "bins", "weight",
                          "verified", "oracle", "oracle_intermediate", "shard"})

#: Settings added after records were written, at the default those records ran with: left out of the hash at
#: that value, so a run resumed with the default keeps its hash and one that changes it does not.
ADDED_LATER = {"sample_merge": "majority", "rethink": "rewrite", "question_work": "short", "notes_from": None,
               "sampling": "temperature"}


@functools.cache
def commit() -> str | None:
    """``git rev-parse HEAD`` of the checkout the code runs from, ``+dirty`` when tracked files differ from it;
    None outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


def settings_hash(settings: Mapping[str, Any]) -> str:
    """12 hex digits of sha256 over the settings (sorted JSON) less :data:`NOT_SETTINGS`."""
    kept = {k: v for k, v in settings.items()
            if k not in NOT_SETTINGS and not (k in ADDED_LATER and v == ADDED_LATER[k])}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
