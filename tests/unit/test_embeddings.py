"""MiniLM embeddings without running the ONNX model: registration with Chroma, tokenisation
(truncation, per-batch padding) and pooling, over a fake onnxruntime session."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sleeptime.local import embeddings as emb
from sleeptime.local.embeddings import DIMS, MAX_LENGTH


class FakeSession:
    """Returns hidden states whose value at each position is its token id (padding: 1000)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def run(self, outputs: list[str], feeds: dict[str, Any]) -> list[Any]:
        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        assert feeds["token_type_ids"].shape == ids.shape
        self.shapes.append(ids.shape)
        hidden = np.repeat(ids[:, :, None].astype(np.float32), DIMS, axis=2)
        hidden[mask == 0] = 1000.0
        hidden[:, :, 1] = 1.0  # a second direction, so the vectors are not all alike
        return [hidden]


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> tuple[emb._Encoder, FakeSession]:
    from tokenizers import Tokenizer

    enc = emb._Encoder.__new__(emb._Encoder)
    tokenizer = Tokenizer.from_file(str(emb._tokenizer_path()))
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    enc.tokenizer = tokenizer
    session = FakeSession()
    enc.session = session  # type: ignore[assignment]
    enc.input_names = {"input_ids", "attention_mask", "token_type_ids"}
    return enc, session


def test_batches_are_padded_to_their_longest_text_and_truncated(
    encoder: tuple[emb._Encoder, FakeSession],
) -> None:
    enc, session = encoder
    enc.encode(["short", "a somewhat longer sentence here"])
    assert session.shapes[0][1] < 16, "padded to the batch, not to 256"
    enc.encode(["word " * 1000])
    assert session.shapes[1] == (1, MAX_LENGTH)


def test_pooling_ignores_padding_normalises_and_keeps_order(
    encoder: tuple[emb._Encoder, FakeSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    enc, _ = encoder
    monkeypatch.setattr(emb, "BATCH_SIZE", 2)  # several batches, texts sorted by length inside
    texts = ["a much longer text than the others, with many tokens in it", "hi", "medium text here", "yo"]
    out = enc.encode(texts)
    assert out.shape == (4, DIMS)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    for text, vec in zip(texts, out, strict=True):
        ids = enc.tokenizer.encode(text).ids
        expected = np.full(DIMS, float(np.mean(ids)), dtype=np.float32)
        expected[1] = 1.0  # padding (1000) would have pulled the mean up if it were counted
        np.testing.assert_allclose(vec, expected / np.linalg.norm(expected), rtol=1e-5)


def test_empty_input(encoder: tuple[emb._Encoder, FakeSession]) -> None:
    enc, session = encoder
    assert enc.encode([]).shape == (0, DIMS)
    assert session.shapes == []


def test_model_file_is_checked_against_the_pinned_sha(monkeypatch: pytest.MonkeyPatch) -> None:
    assert emb._model_path().name == "model.onnx"
    monkeypatch.setattr(emb, "MODEL_SHA256", "0" * 64)
    with pytest.raises(emb.ModelSetupError, match="sha256"):
        emb._model_path()
