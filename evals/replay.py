"""Replaying the sleeps another run recorded (``scaling --notes-from DIR``), so a different wake model answers
from the very notes that run's sleep model wrote: the strong-sleep, cheap-wake arm costs wake calls only.

Each recorded ``sleep-run`` (its notes and predicted questions live in the run's git-ignored texts file) is
published again as the learned context of a fresh context holding the same problem; its answers carry the
recorded sleep tokens, as if this run had slept. A sleep the source run has not reached yet is skipped, so a
replay resumed later picks it up.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from evals.records import RECORDS_FILE, TEXTS_FILE, read_records
from evals.runner import make_key
from sleeptime.errors import InvalidInputError
from sleeptime.experimental import PredictedQuestion

__all__ = ["recorded_sleeps", "replay_sleep"]


@functools.cache
def recorded_sleeps(run_dir: str) -> dict[str, dict[str, Any]]:
    """The complete ``sleep-run`` records of `run_dir` by key, with their notes; refuses a run without texts."""
    folder = Path(run_dir)
    if not (folder / RECORDS_FILE).is_file():
        raise InvalidInputError(f"--notes-from {run_dir}: no {RECORDS_FILE} there")
    if not (folder / TEXTS_FILE).is_file():
        raise InvalidInputError(f"--notes-from {run_dir}: no {TEXTS_FILE} there (the notes are kept only on "
                                "the machine that ran the sleeps; it is git-ignored)")
    return {str(r["key"]): r for r in read_records(folder / RECORDS_FILE)
            if r.get("mode") == "sleep-run" and "error" not in r and "learned" in r}


def replay_sleep(run_dir: str, app: Any, example_id: str, context_id: str, label: str) -> Any | None:
    """Publish the notes `run_dir` recorded for this example and sleep setting as `context_id`'s learned
    context; a result shaped like `app.sleep`'s (usage as recorded), or None when there is no such record."""
    rec = recorded_sleeps(run_dir).get(make_key(example_id, "sleep-run", label))
    if rec is None:
        return None
    learned = [str(s) for s in rec.get("learned") or []]
    questions = [PredictedQuestion(question=str(q["question"]), answer=str(q["answer"]))
                 for q in rec.get("predicted") or []]
    published = bool(rec.get("published")) and any(s.strip() for s in learned)
    usage = SimpleNamespace(calls=rec.get("sleep_calls", 0), input_tokens=rec.get("sleep_input_tokens", 0),
                            output_tokens=rec.get("sleep_output_tokens", 0),
                            reasoning_tokens=rec.get("sleep_reasoning_tokens", 0))
    if published:  # the version states the recorded sleep's cost, so its answers carry it as a sleep's would
        store = app.learned_store()
        store.publish(context_id, samples=learned, questions=questions,
                      source_revision=store.context(context_id).revision,
                      sleep_usage=[{"phase": "sleep", "node": "replayed", "input_tokens": usage.input_tokens,
                                    "output_tokens": usage.output_tokens,
                                    "reasoning_tokens": usage.reasoning_tokens}])
    return SimpleNamespace(published=published, status=f"replayed from {run_dir}: {rec.get('status', '')}",
                           learned=learned, questions=questions, usage=usage, latency_s=rec.get("latency_s", 0.0))
