"""Stores: the Chroma-backed LangGraph BaseStore and the typed learned-context layer over any BaseStore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sleeptime.stores.learned import ContextRecord, LearnedContext, LearnedContextStore

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from sleeptime.stores.chroma import ChromaStore

__all__ = ["ContextRecord", "LearnedContext", "LearnedContextStore", "open_store"]

#: Fields embedded for search: raw chunks and predicted questions.
INDEXED_FIELDS = ["text", "question"]


def open_store(
    *, path: str | Path | None = ".sleeptime/store", url: str | None = None, embeddings: Any = None
) -> ChromaStore:
    """A Chroma store indexed with `embeddings` (default: the embedded MiniLM model, offline).

    `url` selects a Chroma server (client/server mode); otherwise `path` is an on-disk database.
    """
    from sleeptime.models import resolve_embeddings
    from sleeptime.stores.chroma import ChromaStore

    emb: Embeddings = resolve_embeddings(embeddings if embeddings is not None else "embedded:minilm")
    dims = len(emb.embed_query("dimension probe"))
    index = {"dims": dims, "embed": emb, "fields": INDEXED_FIELDS}
    if url is not None:
        return ChromaStore(url=url, index=index)  # type: ignore[arg-type]
    if path is None:
        raise ValueError("give a path (embedded Chroma) or a url (Chroma server)")
    Path(path).mkdir(parents=True, exist_ok=True)
    return ChromaStore(path=path, index=index)  # type: ignore[arg-type]
