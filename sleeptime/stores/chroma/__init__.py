"""`ChromaStore`, a LangGraph `BaseStore` on Chroma, in modules with one job each: `layout` (record
layout and pure helpers), `base` (clients, collections, retries), `search` (reads), `writes` (puts
and the namespace registry), `gc` (TTL sweep and `collect`), `filters`, `sweeper`, `store`."""

from sleeptime.stores.chroma.layout import PrecomputedOnly
from sleeptime.stores.chroma.store import ChromaStore

__all__ = ["ChromaStore", "PrecomputedOnly"]
