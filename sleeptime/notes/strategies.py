"""Experiment strategies: how reflect writes its notes, how k samples merge and how wake retrieves, as objects.

They reach the sleep graph through ``SleepTimeConfig.experiment`` (None: the defaults, `EXPRESSIONS` and
`MAJORITY`). An application leaves that alone; the evals lab and the CLI pick strategies by name
(`experiment_from_names`). Custom ones are plain instances: a `NotesStyle` with its own prompt, a
`SampleMerge` with its own rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sleeptime.large.retrieval import HYBRID, Retrieval
from sleeptime.notes.hygiene import MergeRule, concatenate, majority, merge_samples
from sleeptime.notes.quantities import CheckedNotes, Rejected
from sleeptime.prompts.reflect import USER, USER_WORKED

__all__ = ["CONCAT", "DESCRIBE", "EXPRESSIONS", "MAJORITY", "NOTES", "NOTES_STYLES", "PART_STYLES", "SAMPLE_MERGES",
           "WORKED", "Experiment", "NotesStyle", "PartStyle", "SampleMerge", "experiment_from_names"]


@dataclass(frozen=True)
class NotesStyle:
    """How reflect writes derived quantities: its user-turn template and what checking keeps."""

    name: str
    user_prompt: str
    """The reflect user turn, with ``{context}``, ``{notes}`` and ``{max_chars}`` fields."""
    keep_unchecked: bool
    """Publish lines whose arithmetic the evaluator cannot read (counted in the run's status) instead of
    dropping them."""


EXPRESSIONS = NotesStyle("expressions", USER, keep_unchecked=False)
"""`name = expression` lines the evaluator computes; the rest dropped (the default)."""

WORKED = NotesStyle("worked", USER_WORKED, keep_unchecked=True)
"""A numbered list of worked items ("label = calculation = result") whose arithmetic is recomputed where it
can be read, the rest published unchecked (``sleeptime.notes.quantities``)."""


@dataclass(frozen=True)
class SampleMerge:
    """How k reflect samples merge into one learned context (rules in ``sleeptime.notes.hygiene``)."""

    name: str
    rule: MergeRule
    """The rule for k >= 2 samples; k = 0 or 1 needs none."""

    def __call__(self, samples: Sequence[CheckedNotes]) -> tuple[CheckedNotes, list[Rejected]]:
        """The merged notes and what the rule dropped."""
        return merge_samples(samples, self.rule)


MAJORITY = SampleMerge("majority", majority)
"""Keep the values most samples computed (precision; the default)."""

CONCAT = SampleMerge("concat", concatenate)
"""The paper's concatenation, each note once (recall)."""


@dataclass(frozen=True)
class PartStyle:
    """What sleep writes on each part of a context larger than one prompt, and what it makes of them."""

    name: str
    describe: bool
    """True: a one-sentence description and the questions the part answers (indexed: they lead wake's search
    to the part's chunks), and for the whole a map built from the code and those descriptions with no model
    call (`sleeptime.large.repomap`); False: notes per part, reduced by the model to notes on the whole and
    predicted questions."""
    max_tokens: int | None = None
    """The reply cap of one part's call (None: ``max_tokens_sleep``)."""
    questions: int = 3
    """Questions asked per part when ``describe``."""


NOTES = PartStyle("notes", describe=False)
"""Notes per part, then a reduce and predicted questions (before issue 27)."""

DESCRIBE = PartStyle("describe", describe=True, max_tokens=160)
"""A description and questions per part that steer retrieval, and a map of the files; no reduce."""


@dataclass(frozen=True)
class Experiment:
    """The strategies one sleep run uses; ``SleepTimeConfig.experiment=None`` means ``Experiment()``."""

    notes_style: NotesStyle = EXPRESSIONS
    sample_merge: SampleMerge = MAJORITY
    retrieval: Retrieval = HYBRID
    """How wake finds a large context's evidence (``sleeptime.large.retrieval``)."""
    parts: PartStyle = NOTES
    """What sleep writes per part of a large context."""


NOTES_STYLES = {s.name: s for s in (EXPRESSIONS, WORKED)}
PART_STYLES = {s.name: s for s in (NOTES, DESCRIBE)}
SAMPLE_MERGES = {m.name: m for m in (MAJORITY, CONCAT)}


def experiment_from_names(notes_style: str = "expressions", sample_merge: str = "majority") -> Experiment | None:
    """The experiment that command-line names choose (KeyError for an unknown one); None for the defaults."""
    chosen = Experiment(notes_style=NOTES_STYLES[notes_style], sample_merge=SAMPLE_MERGES[sample_merge])
    return None if chosen == Experiment() else chosen
