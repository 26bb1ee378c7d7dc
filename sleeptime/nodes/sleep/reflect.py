"""Reflect: k independent samples as a LangGraph `Send` fan-out, then one merge.

Each sample is its own `reflect` task (traced, streamed and retried on its own) that rethinks its notes
for up to ``max_rounds`` rounds or until the model says it is done (the ``EXTEND`` rethink: exactly
``max_rounds`` rounds, each checking and extending the last; ``sleeptime.notes.strategies``). Every
round's reply is cleaned and its quantities computed (``sleeptime.notes.hygiene``); the next round sees the
checked notes. `merge` then applies the run's sample merge (by default the paper's concatenation, each note
once; rules in ``sleeptime.notes.hygiene``).
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Send

from sleeptime.config import SleepTimeConfig
from sleeptime.models import sleep_model
from sleeptime.nodes._runtime import config_of
from sleeptime.notes.hygiene import NOTHING_LEARNED, ask_notes, clean_reply, extend_notes
from sleeptime.notes.quantities import check_notes
from sleeptime.notes.strategies import Experiment
from sleeptime.progress import emit
from sleeptime.prompts import reflect as prompt
from sleeptime.state import SampleInput, SampleNotes, SleepState
from sleeptime.usage import UsageRecord

logger = logging.getLogger(__name__)


def fan_out(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> list[Send]:
    """One `reflect` task per sample."""
    cfg = config_of(runtime)
    return [Send("reflect", SampleInput(sample=i, raw_context=state["raw_context"])) for i in range(cfg.samples)]


def reflect(state: SampleInput, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    i, context = state["sample"], state["raw_context"]
    exp = cfg.experiment or Experiment()
    style, rethink, focus = exp.notes_style, exp.rethink, exp.sampling.focus(i)
    # Sample 0 is deterministic at the configured temperature; the others explore (by temperature or by focus).
    model = sleep_model(cfg, temperature=exp.sampling.temperature(i, cfg.temperature, cfg.sample_temperature))
    notes, truncated, dropped, unchecked = "", False, 0, 0
    usage: list[UsageRecord] = []
    for n in range(1, cfg.max_rounds + 1):
        template = rethink.later_prompt if n > 1 and rethink.later_prompt and notes else style.user_prompt
        messages = [
            SystemMessage(prompt.system(cfg.sleep_instructions)),
            HumanMessage(prompt.with_focus(prompt.format_user(context, notes, cfg.learned_max_chars, template),
                                           focus if n == 1 else None)),
        ]
        reply, records, cut = ask_notes(
            model, messages, max_tokens=cfg.max_tokens_sleep, retries=cfg.json_retries
        )
        usage += [{**r, "sample": i} for r in records]
        text, done = prompt.parse_reflection(reply, cfg.learned_max_chars)
        if rethink.extend and notes:  # round r's lines join round r-1's notes; a line it rewrites corrects
            text = extend_notes(notes, text)
        clean = clean_reply(text, context, truncated=cut, keep_unchecked=style.keep_unchecked)
        for line in clean.dropped:  # why a sleep published nothing, for whoever turns on debug logging
            logger.debug("reflect sample %d round %d dropped (%s): %s", i, n, line.reason, line.line)
        # A round whose reply kept nothing keeps the previous notes rather than erasing them.
        if clean.notes.items:
            notes, truncated, dropped, unchecked = clean.render(), cut, len(clean.dropped), len(clean.unchecked)
            for line in clean.unchecked:
                logger.info("reflect sample %d published unchecked (%s): %s", i, line.reason, line.line)
        emit({"event": "round", "sample": i, "round": n, "max_rounds": cfg.max_rounds, "done": done,
              "output_tokens": sum(r["output_tokens"] for r in records)})
        if done and not rethink.all_rounds:
            break
    if truncated:
        logger.info("reflect sample %d cut off at max_tokens_sleep=%d", i, cfg.max_tokens_sleep)
    sample = SampleNotes(sample=i, notes=notes, truncated=truncated, dropped=dropped, unchecked=unchecked)
    return {"samples": [sample], "usage": usage}


def merge(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """The samples' notes merged into one learned context; what was cut off or left out is reported."""
    samples = sorted(state.get("samples") or [], key=lambda s: s["sample"])
    # The rendered notes re-check to the same quantities (each line states its expression).
    cfg = config_of(runtime)
    exp = cfg.experiment or Experiment()
    merged, dropped = exp.sample_merge(
        [check_notes(s["notes"], keep_unchecked=exp.notes_style.keep_unchecked) for s in samples])
    warnings = [f"sample {s['sample']} cut off at max_tokens_sleep" for s in samples if s["truncated"]]
    unchecked = sum(s["unchecked"] for s in samples)
    if unchecked:
        warnings.append(f"{unchecked} note lines published unchecked: the evaluator could not read their arithmetic")
    if len(samples) > 1 and dropped:
        warnings.append(f"{len(dropped)} quantities dropped by the {len(samples)}-sample merge")
    text = merged.render()
    if not text:  # nothing to publish: predict and publish see no notes and keep the published version
        return {"learned": [], "warnings": [*warnings, NOTHING_LEARNED]}
    return {"learned": [text], "warnings": warnings}
