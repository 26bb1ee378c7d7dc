"""Sleep at any size: a context too large for one prompt is slept on part by part, then reduced.

`plan` decides: a context whose reflect prompt fits the sleep model's window takes the usual
reflect/predict path, unchanged. A larger one is cut into parts (each file, or a section of a file,
made to fit), and `route_after_plan` fans out one `reflect_part` per part with no stored notes (a
LangGraph `Send` each; at most `part_concurrency` run at once). Part notes are stored, indexed,
under a key made of the part's chunk digests and the sleep model, so a re-sleep after a change
re-reflects only the parts whose text changed. `reduce` folds the part notes into notes on the
whole (in rounds when they do not fit one prompt) and predicts questions from them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Send
from typing_extensions import TypedDict

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError, ModelOutputError
from sleeptime.large.outline import outline
from sleeptime.large.packing import Piece, pack
from sleeptime.large.repomap import file_map
from sleeptime.large.sources import SourceChunk
from sleeptime.large.windows import Window, window_of
from sleeptime.models import sleep_model
from sleeptime.nodes._runtime import config_of, store_of
from sleeptime.nodes.sleep.reflect import fan_out
from sleeptime.notes.strategies import Experiment, PartStyle
from sleeptime.progress import emit
from sleeptime.prompts import parts as prompt
from sleeptime.prompts import predict as predict_prompt
from sleeptime.prompts import reflect as reflect_prompt
from sleeptime.state import PartSpec, PredictedQuestion, SleepState
from sleeptime.stopping import check_not_stopped, request_stop
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.structured import ask_json, ask_text
from sleeptime.usage import UsageRecord

log = logging.getLogger(__name__)


class PartTask(TypedDict):
    context_id: str
    part: PartSpec


def sleep_window(cfg: SleepTimeConfig) -> Window:
    return window_of(sleep_model(cfg), cfg.context_window)


def _fixed(window: Window, *texts: str) -> int:
    return sum(window.count(t) for t in texts)


def whole_fits(raw: str, cfg: SleepTimeConfig, window: Window) -> bool:
    """Whether reflect's prompt (raw context, notes at their limit) and its reply fit the window."""
    notes_tokens = -(-cfg.learned_max_chars // 3)  # notes at their limit, conservatively
    fixed = _fixed(window, reflect_prompt.SYSTEM, reflect_prompt.USER, predict_prompt.SYSTEM)
    return window.count(raw) + notes_tokens + fixed <= window.room(cfg.max_tokens_sleep)


def part_budget(cfg: SleepTimeConfig, window: Window) -> int:
    """Tokens of part text one reflect_part prompt may hold."""
    room = window.room(cfg.max_tokens_sleep) - _fixed(window, prompt.PART_SYSTEM, prompt.PART_USER) - 32
    if room < 16:
        raise InvalidInputError(
            f"the sleep model's window ({window.tokens} tokens) leaves no room for a part after "
            f"max_tokens_sleep={cfg.max_tokens_sleep}: raise context_window or lower max_tokens_sleep"
        )
    return room


def _style(cfg: SleepTimeConfig) -> PartStyle:
    return (cfg.experiment or Experiment()).parts


def _model_tag(cfg: SleepTimeConfig) -> str:
    spec = cfg.sleep_model
    tag = spec if isinstance(spec, str) else type(spec).__name__
    style = _style(cfg)
    return tag if not style.describe else f"{tag}\0{style.name}"  # notes of one style never serve another


def _part(group: list[SourceChunk], tag: str, budget: int, window: Window) -> PartSpec:
    text = "\n".join(c.text for c in group)
    text = window.fit(text, budget)  # one chunk larger than a part: keep what fits
    key = hashlib.sha256("\0".join([tag, *(c.digest for c in group)]).encode()).hexdigest()
    return PartSpec(key=key, source=group[0].source, start_line=group[0].start_line,
                    end_line=group[-1].end_line, text=text)


def plan_parts(chunks: Sequence[SourceChunk], budget: int, window: Window, tag: str = "") -> list[PartSpec]:
    """Consecutive chunks of one source grouped into parts of at most `budget` tokens: a whole file
    when it fits, else sections of it. Parts never span files, so a change re-reflects one file."""
    parts: list[PartSpec] = []
    group: list[SourceChunk] = []
    used = 0
    for chunk in chunks:
        cost = window.count(chunk.text) + 1
        if group and (chunk.source != group[0].source or used + cost > budget):
            parts.append(_part(group, tag, budget, window))
            group, used = [], 0
        group.append(chunk)
        used += cost
    if group:
        parts.append(_part(group, tag, budget, window))
    return parts


def _chunks_of(store: LearnedContextStore, context_id: str, revision: int) -> list[SourceChunk]:
    manifest = store.parts.manifest(context_id, revision)
    if manifest is not None:
        return manifest
    # Ingested before chunks had sources: one unnamed source, lines counted through it.
    out: list[SourceChunk] = []
    line = 1
    for i, text in enumerate(store.chunks(context_id, revision)):
        end = line + text.count("\n")
        out.append(SourceChunk(text, "<context>", line, end, hashlib.sha256(f"{i}\0{text}".encode()).hexdigest()))
        line = end + 1
    return out


def plan(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """Cut a context too large for one prompt into parts; reuse stored notes of unchanged parts."""
    cfg = config_of(runtime)
    window = sleep_window(cfg)
    if whole_fits(state.get("raw_context", ""), cfg, window):
        emit({"event": "plan", "parts": 0, "reused": 0, "samples": cfg.samples, "max_rounds": cfg.max_rounds})
        return {"parts": []}
    store = store_of(runtime)
    index = store.parts
    context_id, revision = state["context_id"], state["revision"]
    chunks = _chunks_of(store, context_id, revision)
    parts = plan_parts(chunks, part_budget(cfg, window), window, _model_tag(cfg))
    # Listed before any notes are written, so a collection keeps them even if this sleep stops.
    index.set_parts(context_id, revision, [(p["key"], p["source"], p["start_line"], p["end_line"]) for p in parts])
    done = index.part_notes(context_id, [p["key"] for p in parts])
    emit({"event": "plan", "parts": len(parts) - len(done), "reused": len(done), "samples": cfg.samples,
          "max_rounds": cfg.max_rounds})
    return {"parts": parts, "part_notes": done}


def route_after_plan(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> list[Send] | Literal["reduce"]:
    parts = state.get("parts") or []
    if not parts:  # fits one prompt: the usual reflect fan-out over samples
        return fan_out(state, runtime)
    done = state.get("part_notes") or {}
    todo = [p for p in parts if p["key"] not in done]
    if not todo:
        return "reduce"
    return [Send("reflect_part", PartTask(context_id=state["context_id"], part=p)) for p in todo]


_gates: dict[int, threading.BoundedSemaphore] = {}
_gates_guard = threading.Lock()


def _gate(n: int) -> threading.BoundedSemaphore:
    with _gates_guard:
        return _gates.setdefault(n, threading.BoundedSemaphore(n))


def reflect_part(state: PartTask, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """Notes on one part; stored at once, so an interrupted sleep keeps what it finished."""
    cfg = config_of(runtime)
    part = state["part"]
    span = f"{part['source']}:{part['start_line']}-{part['end_line']}"
    style = _style(cfg)
    if style.describe:
        messages: list[BaseMessage] = [
            SystemMessage(prompt.DESCRIBE_SYSTEM),
            HumanMessage(prompt.DESCRIBE_USER.format(
                source=span, text=outline(part["source"], part["text"]) if style.outline else part["text"],
                n=style.questions)),
        ]
    else:
        messages = [
            SystemMessage(prompt.PART_SYSTEM),
            HumanMessage(prompt.PART_USER.format(source=span, text=part["text"], max_chars=cfg.part_notes_chars)),
        ]
    with _gate(cfg.part_concurrency):
        check_not_stopped(f"part {span}")  # a stopped sleep's waiting parts make no call
        try:
            reply, usage = ask_text(sleep_model(cfg, max_tokens=style.max_tokens), messages, phase="sleep",
                                    node="reflect_part", retries=cfg.json_retries)
        except KeyboardInterrupt:
            request_stop()  # before the gate lets the next part in
            raise
    if style.describe:
        notes = _description(reply, cfg)
    else:
        notes, _ = reflect_prompt.parse_reflection(reply, cfg.part_notes_chars)
        notes = notes or reply.strip()[: cfg.part_notes_chars]
    store_of(runtime).parts.put_part_notes(
        state["context_id"], part["key"], notes, part["source"], part["start_line"], part["end_line"]
    )
    emit({"event": "part", "part": span, "output_tokens": sum(r["output_tokens"] for r in usage)})
    return {"part_notes": {part["key"]: notes}, "usage": usage}


def _description(reply: str, cfg: SleepTimeConfig) -> str:
    """A part's description and questions: its non-empty lines, markdown dropped, within `part_notes_chars`."""
    lines = [line.strip().lstrip("#*-0123456789. ").replace("**", "") for line in reply.splitlines()]
    lines = [line.removeprefix("Line 1:").strip() for line in lines if line.strip()]
    return "\n".join(lines)[: cfg.part_notes_chars]


def _blocks(pieces: Sequence[Piece]) -> str:
    return "\n\n".join(f"[{p.citation}]\n{p.text}" for p in pieces)


def _batches(pieces: list[Piece], room: int, window: Window) -> list[list[Piece]]:
    out: list[list[Piece]] = [[]]
    used = 0
    for piece in pieces:
        cost = window.count(_blocks([piece])) + 2
        if out[-1] and used + cost > room:
            out.append([])
            used = 0
        out[-1].append(piece)
        used += cost
    return out


def _reduce_once(cfg: SleepTimeConfig, pieces: list[Piece], room: int, window: Window) -> tuple[str, list[UsageRecord]]:
    text = _blocks(pieces)
    text = window.fit(text, room)
    messages: list[BaseMessage] = [
        SystemMessage(prompt.REDUCE_SYSTEM),
        HumanMessage(prompt.REDUCE_USER.format(notes=text, max_chars=cfg.learned_max_chars)),
    ]
    reply, usage = ask_text(sleep_model(cfg), messages, phase="sleep", node="reduce", retries=cfg.json_retries)
    notes, _ = reflect_prompt.parse_reflection(reply, cfg.learned_max_chars)
    return notes or reply.strip()[: cfg.learned_max_chars], usage


def reduce_notes(cfg: SleepTimeConfig, pieces: list[Piece], window: Window) -> tuple[str, list[UsageRecord]]:
    """Notes on the whole from part notes: in rounds of batches that fit, until one prompt holds them."""
    room = window.room(cfg.max_tokens_sleep) - _fixed(window, prompt.REDUCE_SYSTEM, prompt.REDUCE_USER) - 32
    usage: list[UsageRecord] = []
    level = pieces
    while True:
        batches = _batches(level, room, window)
        if len(batches) == 1 or len(batches) >= len(level):  # one prompt holds them, or no batch merges
            notes, records = _reduce_once(cfg, [p for b in batches for p in b], room, window)
            return notes, usage + records
        merged: list[Piece] = []
        for batch in batches:
            notes, records = _reduce_once(cfg, batch, room, window)
            usage.extend(records)
            first, last = batch[0].source, batch[-1].source
            merged.append(Piece(notes, first if first == last else f"{first} .. {last}"))
        level = merged


def predict_from_notes(
    cfg: SleepTimeConfig, notes: str, pieces: list[Piece], window: Window
) -> tuple[list[PredictedQuestion], list[UsageRecord]]:
    if cfg.n_questions == 0:
        return [], []
    system = prompt.QUESTIONS_SYSTEM.format(n=cfg.n_questions)
    room = window.room(cfg.max_tokens_sleep) - _fixed(window, system, prompt.QUESTIONS_USER, notes) - 32
    packed = pack(pieces, room, window.count).text if room > 16 else ""
    messages: list[BaseMessage] = [
        SystemMessage(system), HumanMessage(prompt.QUESTIONS_USER.format(notes=notes, parts=packed or "(none)"))
    ]
    parsed, usage = ask_json(sleep_model(cfg), messages, predict_prompt.Predictions, phase="sleep",
                             node="predict", retries=cfg.json_retries)
    seen: set[str] = set()
    questions: list[PredictedQuestion] = []
    for qa in parsed.questions:
        key = " ".join(qa.question.lower().split())
        if key not in seen:
            seen.add(key)
            questions.append(PredictedQuestion(question=qa.question, answer=qa.answer))
    return questions[: cfg.n_questions], usage


def reduce(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """Context-level notes and predicted questions from the notes of every part."""
    cfg = config_of(runtime)
    window = sleep_window(cfg)
    parts = state.get("parts") or []
    notes_by_key = state.get("part_notes") or {}
    if _style(cfg).describe:  # the map, from the code and the descriptions: no model call
        first: dict[str, str] = {}
        for p in parts:
            first.setdefault(p["source"], notes_by_key.get(p["key"], ""))
        chunks = _chunks_of(store_of(runtime), state["context_id"], state["revision"])
        return {"learned": [file_map(chunks, first)], "questions": [], "usage": []}
    # Earlier parts score higher, so packing for the questions keeps the start when it must cut.
    pieces = [
        Piece(notes_by_key.get(p["key"], ""), p["source"], p["start_line"], p["end_line"], score=-i)
        for i, p in enumerate(parts)
        if notes_by_key.get(p["key"], "").strip()
    ]
    notes, usage = reduce_notes(cfg, pieces, window)
    try:
        questions, q_usage = predict_from_notes(cfg, notes, pieces, window)
    except ModelOutputError as error:  # the notes on every part are worth publishing without questions
        log.warning("sleep %s: no predicted questions: %s", state["context_id"], error)
        questions, q_usage = [], []
    return {"learned": [notes], "questions": questions, "usage": usage + q_usage}
