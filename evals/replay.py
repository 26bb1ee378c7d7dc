"""Replaying the sleeps another run recorded (``scaling --notes-from DIR``), so a different wake model answers
from the very notes that run's sleep model wrote: the strong-sleep, cheap-wake arm costs wake calls only.

Each recorded ``sleep-run`` (its notes and predicted questions live in the run's git-ignored texts file) is
published again as the learned context of a fresh context holding the same problem; its answers carry the
recorded sleep tokens, as if this run had slept. A sleep the source run has not reached yet is skipped, so a
replay resumed later picks it up.

With another ``--sample-merge`` than the source's, a k > 1 sleep's recorded samples (``sample_notes``, kept
since the merge could be replayed) are merged again by this run's rule: the same samples and sleep tokens under
another merge, for the cost of wake calls. A k > 1 sleep recorded without its samples is skipped then, and so is
the whole example (``samples_to_remerge``): its other answers would repeat the source run's.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from evals.options import SleepSetting
from evals.provenance import ADDED_LATER
from evals.records import RECORDS_FILE, RUN_FILE, TEXTS_FILE, read_records, read_run_file
from evals.runner import make_key
from sleeptime import Usage
from sleeptime.errors import InvalidInputError
from sleeptime.experimental import SAMPLE_MERGES, PredictedQuestion, check_notes

__all__ = ["first_samples", "recorded_sleeps", "remerged", "replay_sleep", "samples_to_remerge", "source_merge"]


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


@functools.cache
def source_merge(run_dir: str) -> str:
    """The sample merge `run_dir` slept with (its run.json; runs from before the option merged by majority)."""
    options = read_run_file(run_dir).get("options", {}) if (Path(run_dir) / RUN_FILE).is_file() else {}
    return str(options.get("sample_merge", ADDED_LATER["sample_merge"]))


def remerged(rec: dict[str, Any], merge: str) -> list[str] | None:
    """The recorded samples merged by `merge` as the learned context, or None when they were not recorded."""
    samples = rec.get("sample_notes")
    if not samples:
        return None
    notes, _ = SAMPLE_MERGES[merge]([check_notes(str(s)) for s in samples])
    text = notes.render()
    return [text] if text else []


def samples_to_remerge(run_dir: str, example_id: str, settings: Sequence[SleepSetting], merge: str) -> bool:
    """False when `merge` is not the source's rule and a k > 1 sleep of this example was recorded without its
    samples: the example would only repeat answers the source run already has, so it is skipped."""
    if merge == source_merge(run_dir):
        return True
    sleeps = recorded_sleeps(run_dir)
    recorded = [sleeps.get(make_key(example_id, "sleep-run", s.label)) for s in settings if s.samples > 1]
    return all(rec is None or rec.get("sample_notes") for rec in recorded)  # unrecorded: a later resume


def replay_sleep(run_dir: str, app: Any, example_id: str, context_id: str, label: str,
                 merge: str | None = None) -> Any | None:
    """Publish the notes `run_dir` recorded for this example and sleep setting as `context_id`'s learned
    context (its k samples merged again by `merge` when that is not the source's rule); a result shaped like
    `app.sleep`'s (usage as recorded), or None when there is no such record (or no samples to merge again)."""
    rec = recorded_sleeps(run_dir).get(make_key(example_id, "sleep-run", label))
    if rec is None:
        return None
    learned = [str(s) for s in rec.get("learned") or []]
    if merge is not None and merge != source_merge(run_dir) and int(rec.get("samples") or 1) > 1:
        again = remerged(rec, merge)
        if again is None:
            return None
        learned = again
    questions = [PredictedQuestion(question=str(q["question"]), answer=str(q["answer"]))
                 for q in rec.get("predicted") or []]
    published = bool(rec.get("published")) and any(s.strip() for s in learned)
    usage = SimpleNamespace(calls=rec.get("sleep_calls", 0), input_tokens=rec.get("sleep_input_tokens", 0),
                            output_tokens=rec.get("sleep_output_tokens", 0),
                            reasoning_tokens=rec.get("sleep_reasoning_tokens", 0))
    if published:  # the version states the recorded sleep's cost, so its answers carry it as a sleep's would
        _publish(app, context_id, learned, questions, usage, node="replayed")
    return SimpleNamespace(published=published, status=f"replayed from {run_dir}: {rec.get('status', '')}",
                           learned=learned, samples=list(rec.get("sample_notes") or []), questions=questions,
                           usage=usage, sample_usage=[], latency_s=rec.get("latency_s", 0.0))


def _publish(app: Any, context_id: str, learned: list[str], questions: list[PredictedQuestion], usage: Any,
             node: str) -> None:
    """Publish notes no sleep of this app wrote as `context_id`'s learned context, stating what writing them cost."""
    store = app.learned_store()
    store.publish(context_id, samples=learned, questions=questions, source_revision=store.context(context_id).revision,
                  sleep_usage=[{"phase": "sleep", "node": node, "input_tokens": usage.input_tokens,
                                "output_tokens": usage.output_tokens, "reasoning_tokens": usage.reasoning_tokens}])


def first_samples(source: Any, k: int, app: Any, context_id: str, merge: str) -> Any:
    """The k-sample sleep a larger sleep of the same example already holds: its first k samples merged by `merge`
    and published as `context_id`'s learned context, with the cost of those k samples' calls.

    Its predicted questions are those the first k samples listed and worked (level-4 question work lists and
    works them per sample, from that sample's notes). Exact only where sample i does not depend on how many were
    drawn: ``--sampling views`` (every sample greedy) with no short predict call after the merge; the caller
    checks that."""
    samples = list(source.samples[:k])
    questions = [q for q in source.questions if q.get("sample", 0) < k]
    notes, _ = SAMPLE_MERGES[merge]([check_notes(s) for s in samples])
    text = notes.render()
    learned = [text] if text else []
    usage = Usage(**{field: sum(getattr(part, field) for part in source.sample_usage[:k])
                     for field in Usage.model_fields})
    published = bool(learned)
    if published:
        _publish(app, context_id, learned, questions, usage, node="first_samples")
    status = f"the first {k} of {len(source.samples)} samples of this example's larger sleep"
    return SimpleNamespace(published=published, status=status, learned=learned, samples=samples, questions=questions,
                           usage=usage, sample_usage=list(source.sample_usage[:k]), latency_s=None)
