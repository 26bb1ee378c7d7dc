"""What the evals lab and the benchmarks use beyond the public API. It may change between releases.

The declared surface of ``sleeptime`` is the package itself (its ``__all__``), the documented modules
``sleeptime.errors``, ``sleeptime.testing``, ``sleeptime.stores``, ``sleeptime.scheduler``,
``sleeptime.integrations`` and ``sleeptime.local.prefix_cache``, and this module; ``evals/`` and
``benchmarks/`` import nothing else (``tests/unit/test_declared_surface.py``). Here:

- **strategies** (``SleepTimeConfig.experiment``): `Experiment` holding a `NotesStyle` (`EXPRESSIONS`,
  `WORKED`), a `SampleMerge` (`MAJORITY`, `CONCAT`, `RECONCILE`, `MEDOID`), a `Rethink` (`REWRITE`,
  `EXTEND`: exactly max_rounds rounds, each checking and extending the last), a `QuestionWork` (`SHORT`,
  `LEVEL4`: the sleep model
  works its predicted questions step by step), a `Sampling` (`TEMPERATURE`; `VIEWED`: k samples each with its
  own focus), a `Retrieval` and a `PartStyle` (`NOTES`, `DESCRIBE`,
  `OUTLINE`: what sleep writes per part of a large context); `experiment_from_names` maps command-line names
  (`NOTES_STYLES`, `SAMPLE_MERGES`, `RETHINKS`, `QUESTION_WORK`, `SAMPLINGS`, `PART_STYLES`) to them;
- **note checking**: the one arithmetic evaluator (`evaluate` within `Limits`, `QuantityError`,
  `format_value`), the note checker (`check_notes`) and the reply cleaner (`clean_reply`, `is_cut_off`);
- **prompts**: the reflect, predict and parts prompt modules (`reflect_prompt`, `predict_prompt`,
  `parts_prompt`) and the answer prompt (`build_answer_messages`), with the state types they read
  (`WakeState`, `PredictedQuestion`);
- **matching**: the served-answer rules the calibration experiments measure (`extract_facts`,
  `compare_facts`, `decide`);
- **stores and large contexts**: `INDEXED_FIELDS` (a store index's searched fields) and `load_context`
  (what the swe experiment compares a folder to the store with; the part index is `LearnedContextStore.parts`);
  the wake's retrieval strategies (`Retrieval`, `DENSE`, `HYBRID`, `RETRIEVALS`: ``Experiment.retrieval``) and
  `search_context`, the search `gather` runs (what the model-free retrieval recall measures), and
  `part_outline`, the text the `OUTLINE` part style describes a part from;
- **models and usage**: `wake_model`, `warm_published`, `kv_state`, `MiniLMEmbeddings`,
  the GGUF registry (`GGUF_REGISTRY`, `ensure_gguf`), `extract_json_object`, `record_usage`,
  `summarize_usage`.
"""

from __future__ import annotations

from sleeptime.large.outline import outline as part_outline
from sleeptime.large.retrieval import DENSE, HYBRID, RETRIEVALS, Retrieval
from sleeptime.local import kv_state
from sleeptime.local.embeddings import MiniLMEmbeddings
from sleeptime.local.gguf import REGISTRY as GGUF_REGISTRY
from sleeptime.local.gguf import ensure_gguf
from sleeptime.matching import compare_facts, decide, extract_facts
from sleeptime.models import wake_model
from sleeptime.notes.arithmetic import Limits, QuantityError, evaluate
from sleeptime.notes.hygiene import clean_reply, is_cut_off
from sleeptime.notes.quantities import check_notes, format_value
from sleeptime.notes.strategies import (
    CONCAT,
    DESCRIBE,
    EXPRESSIONS,
    EXTEND,
    LEVEL4,
    MAJORITY,
    MEDOID,
    NOTES,
    NOTES_STYLES,
    OUTLINE,
    PART_STYLES,
    QUESTION_WORK,
    RECONCILE,
    RETHINKS,
    REWRITE,
    SAMPLE_MERGES,
    SAMPLINGS,
    SHORT,
    TEMPERATURE,
    VIEWED,
    WORKED,
    Experiment,
    NotesStyle,
    PartStyle,
    QuestionWork,
    Rethink,
    SampleMerge,
    Sampling,
    experiment_from_names,
)
from sleeptime.prompts import parts as parts_prompt
from sleeptime.prompts import predict as predict_prompt
from sleeptime.prompts import reflect as reflect_prompt
from sleeptime.prompts.answer import build_answer_messages
from sleeptime.state import PredictedQuestion, WakeState
from sleeptime.stores import INDEXED_FIELDS
from sleeptime.stores.corpus import load_context
from sleeptime.stores.hybrid import search as search_context
from sleeptime.structured import extract_json_object
from sleeptime.usage import record_usage, summarize_usage
from sleeptime.warmup import warm_published

__all__ = [
    "CONCAT",
    "DENSE",
    "DESCRIBE",
    "EXPRESSIONS",
    "EXTEND",
    "GGUF_REGISTRY",
    "HYBRID",
    "INDEXED_FIELDS",
    "LEVEL4",
    "MAJORITY",
    "MEDOID",
    "NOTES",
    "NOTES_STYLES",
    "OUTLINE",
    "PART_STYLES",
    "QUESTION_WORK",
    "RECONCILE",
    "RETHINKS",
    "RETRIEVALS",
    "REWRITE",
    "SAMPLE_MERGES",
    "SAMPLINGS",
    "SHORT",
    "TEMPERATURE",
    "VIEWED",
    "WORKED",
    "Experiment",
    "Limits",
    "MiniLMEmbeddings",
    "NotesStyle",
    "PartStyle",
    "PredictedQuestion",
    "QuantityError",
    "QuestionWork",
    "Rethink",
    "Retrieval",
    "SampleMerge",
    "Sampling",
    "WakeState",
    "build_answer_messages",
    "check_notes",
    "clean_reply",
    "compare_facts",
    "decide",
    "ensure_gguf",
    "evaluate",
    "experiment_from_names",
    "extract_facts",
    "extract_json_object",
    "format_value",
    "is_cut_off",
    "kv_state",
    "load_context",
    "part_outline",
    "parts_prompt",
    "predict_prompt",
    "record_usage",
    "reflect_prompt",
    "search_context",
    "summarize_usage",
    "wake_model",
    "warm_published",
]
