"""The store `langgraph dev` / Studio runs the graphs on (named in langgraph.json).

The server calls `make_store()` with no arguments, so the on-disk location comes from
SLEEPTIME_STUDIO_STORE (default `.sleeptime/studio`, relative to where the server runs).
"""

from __future__ import annotations

import os

from langgraph.store.base import BaseStore

from sleeptime.stores import open_store


def make_store() -> BaseStore:
    return open_store(path=os.environ.get("SLEEPTIME_STUDIO_STORE", ".sleeptime/studio"))
