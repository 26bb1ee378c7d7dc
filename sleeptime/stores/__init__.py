"""Stores: the Chroma-backed LangGraph BaseStore and the typed learned-context layer over any BaseStore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sleeptime.errors import InvalidInputError
from sleeptime.stores.layout import KeyLayout
from sleeptime.stores.learned import ContextRecord, LearnedContext, LearnedContextStore

if TYPE_CHECKING:
    from sleeptime.stores.chroma import ChromaStore

__all__ = ["ChromaStore", "ContextRecord", "KeyLayout", "LearnedContext", "LearnedContextStore", "open_store"]

#: Fields embedded for search: predicted questions (raw chunks are stored unindexed: nothing
#: searches them).
INDEXED_FIELDS = ["question"]


def __getattr__(name: str) -> Any:
    # ChromaStore imports chromadb (slow): load it on first use, not with the learned-context layer.
    if name == "ChromaStore":
        from sleeptime.stores.chroma import ChromaStore

        return ChromaStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(
    *, path: str | Path | None = ".sleeptime/store", url: str | None = None, embeddings: Any = None
) -> ChromaStore:
    """A Chroma store indexed with `embeddings` (default: the embedded MiniLM model, offline).

    `url` selects a Chroma server (client/server mode); otherwise `path` is an on-disk database.
    The vector dimension comes from the embeddings object or from the first vector (nothing is
    embedded just to learn it).
    """
    from sleeptime.models import resolve_embeddings
    from sleeptime.stores.chroma import ChromaStore

    emb = resolve_embeddings(embeddings if embeddings is not None else "embedded:minilm")
    index: Any = {"embed": emb, "fields": INDEXED_FIELDS}
    if url is not None:
        return ChromaStore(url=url, index=index)
    if path is None:
        raise InvalidInputError("give a path (embedded Chroma) or a url (Chroma server)")
    Path(path).mkdir(parents=True, exist_ok=True)
    return ChromaStore(path=path, index=index)
