"""How wake finds the evidence of a context larger than one prompt: a strategy object.

`Retrieval` says which rankings are fused (reciprocal rank fusion, `sleeptime.large.lexical.rrf`):
``dense`` (the store's embedding search over raw chunks), ``lexical`` (BM25 over the chunks' code-aware
tokens) and ``definitions`` (the chunks that define a name the question writes as code, `sleeptime.large.symbols`)
and ``descriptions`` (what sleep wrote on each part: it joins the BM25 text of that part's chunks,
and a dense search over the part notes leads to the part's chunks). It reaches the wake graph through
``SleepTimeConfig.experiment`` (``Experiment.retrieval``); the evals lab compares `DENSE` (plain RAG as
before) with `HYBRID` (the default: measured better, see docs/large-contexts.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DENSE", "HYBRID", "RETRIEVALS", "Retrieval"]


@dataclass(frozen=True)
class Retrieval:
    """Which rankings find a large context's evidence, fused by reciprocal rank."""

    name: str
    dense: bool = True
    """The store's embedding search over raw chunks."""
    lexical: bool = True
    """BM25 over the raw chunks (code-aware tokens)."""
    descriptions: bool = True
    """Sleep-time part descriptions lead to their parts' chunks (BM25 text and a dense search), when slept."""
    rrf_k: int = 10
    """The fusion constant: each ranking adds ``weight / (rrf_k + rank)``."""
    lexical_weight: float = 1.5
    """The BM25 ranking's weight in the fusion (the dense ones weigh 1)."""
    descriptions_weight: float = 0.5
    """The weight of the ranking the descriptions lead to (one chunk per described part); they no longer join
    the BM25 text of their chunks. Chosen on click-8.1.8 with the 1.5B's outline descriptions, where the
    best chunk's file as the answer scored F1 0.700 with no descriptions, 0.603 as they joined before (BM25
    text, weight 1, two chunks a part), 0.737 at 0.5 and one chunk, 0.700 at 0.25, 0.617 at 0.75: a narrow
    optimum, so the weight is small. On the 58 untuned tasks it changes nothing: 0.626 with and without."""
    definitions: bool = True
    """The chunks that define a name the question writes as code lead (`sleeptime.large.symbols`)."""
    definitions_weight: float = 1.5
    """The definitions ranking's weight in the fusion."""


DENSE = Retrieval("dense", lexical=False, descriptions=False, definitions=False)
"""The store's embedding search over raw chunks alone (plain RAG before hybrid search)."""

HYBRID = Retrieval("hybrid")
"""Dense and BM25 over raw chunks, the chunks defining the names the question writes as code, and with a
learned context its part descriptions, fused by rank. ``rrf_k=10`` and BM25 weighing 1.5 were chosen on
click-8.1.8's 36 SWE-Features tasks (recall@5 of gold files 0.804 against 0.741 at ``rrf_k=60``, equal
weights; dense alone 0.677), the definitions' weight 1.5 there too (the best-ranked chunk's file is a
changed file: F1 0.612 -> 0.700; 0.5 to 3 tried); the other snapshots were not used to choose them
(0.609 -> 0.626 on their 58 tasks)."""

RETRIEVALS = {r.name: r for r in (DENSE, HYBRID)}
