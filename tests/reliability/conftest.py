"""Issue 30's reliability suite: each defect the attack found, replayed (`pytest -m reliability`).

Every test here carries the `reliability` marker (added below), runs in `make test` like any other,
and opens no socket unless it is also marked `integration` (the LangGraph-server tenancy tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
