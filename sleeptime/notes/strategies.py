"""Experiment strategies: how reflect writes its notes, how k samples merge and how wake retrieves, as objects.

They reach the sleep graph through ``SleepTimeConfig.experiment`` (None: the defaults, `EXPRESSIONS`, `CONCAT`,
`REWRITE` and `SHORT`). An application leaves that alone; the evals lab and the CLI pick strategies by name
(`experiment_from_names`). Custom ones are plain instances: a `NotesStyle` with its own prompt, a
`SampleMerge` with its own rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sleeptime.large.retrieval import HYBRID, Retrieval
from sleeptime.notes.hygiene import MergeRule, concatenate, majority, medoid, merge_samples, reconcile
from sleeptime.notes.quantities import CheckedNotes, Rejected
from sleeptime.prompts.reflect import USER, USER_EXTEND, USER_WORKED, VIEWS

__all__ = ["CONCAT", "DESCRIBE", "EXPRESSIONS", "EXTEND", "LEVEL4", "MAJORITY", "MEDOID", "NOTES", "NOTES_STYLES",
           "OUTLINE", "PART_STYLES", "QUESTION_WORK", "RECONCILE", "RETHINKS", "REWRITE", "SAMPLE_MERGES", "SAMPLINGS",
           "SHORT", "TEMPERATURE", "VIEWED", "WORKED", "Experiment", "NotesStyle", "PartStyle", "QuestionWork",
           "Rethink", "SampleMerge", "Sampling", "experiment_from_names"]


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
"""Keep the values most samples computed (precision). Measured to lose as k grows on a weak sleep model (issue 16:
k = 1, 2, 4 gave 13, 6, 4 of 100), so no longer the default."""

CONCAT = SampleMerge("concat", concatenate)
"""The paper's concatenation, each note once (recall): the default for ``samples > 1`` since issue 28, the merge
that did not lose as k grew (2, 4, 5 of 26 where majority gave 2, 1, 0 on the same examples). On the decisive run
(``evals/results/decisive-base-2802``, n = 200, the 1.5B) k = 1, 2, 4 gave 39, 37, 41 at level 0: more samples of
the same sleep neither lose nor add there; rounds and question work do add."""

RECONCILE = SampleMerge("reconcile", reconcile)
"""Values the samples agree on kept once (by value, under any name), what one sample alone computed kept, and a
name the samples disagree on resolved by majority (k >= 3) or kept with each value labelled by its samples: neither
concatenation's duplicates nor majority's losses. Measured on the decisive run's 72 examples with recorded samples
(``evals/results/decisive-base-2802-reconcile``): k = 1, 2, 4 gave 12, 14, 16 of 72 against concatenation's 12, 14,
17, so not the default."""

MEDOID = SampleMerge("medoid", medoid)
"""The one sample whose numbers agree most with the others', published alone (self-consistency over whole samples):
notes as short as k = 1's, chosen by agreement. Measured on the same 72 examples
(``evals/results/decisive-base-2802-medoid``): 12, 12, 14 of 72 against concatenation's 12, 14, 17, so not the
default."""


@dataclass(frozen=True)
class Sampling:
    """What makes reflect's k samples differ. Sample 0 is always the plain prompt at the configured temperature."""

    name: str
    focuses: tuple[str, ...]
    """Empty: samples 1.. are drawn again at ``sample_temperature``. Otherwise sample i > 0 keeps the configured
    temperature and reads focus line ``focuses[(i - 1) % len(focuses)]`` after the prompt."""

    def focus(self, sample: int) -> str | None:
        """Sample `sample`'s focus line (None: the plain prompt)."""
        return self.focuses[(sample - 1) % len(self.focuses)] if self.focuses and sample > 0 else None

    def temperature(self, sample: int, temperature: float, sample_temperature: float) -> float:
        """The temperature sample `sample` is drawn at."""
        return temperature if sample == 0 or self.focuses else sample_temperature


TEMPERATURE = Sampling("temperature", ())
"""Samples 1.. draw the same prompt again at ``sample_temperature`` (the paper's parallel samples; the default)."""

VIEWED = Sampling("views", VIEWS)
"""Samples 1.. read the same prompt with a focus each (``sleeptime.prompts.reflect.VIEWS``: chain the facts
forward, each person or item in turn, the likely questions' answers), at the configured temperature: k samples
that look at the situation differently rather than draw one view again with noise. Measured on the 200 decisive
instances (``evals/results/decisive-base-2802-views``): k = 1, 2, 4 gave 41, 38, 44 at level 0, so not the default."""


@dataclass(frozen=True)
class Rethink:
    """What the reflect rounds after the first do (``max_rounds``)."""

    name: str
    all_rounds: bool
    """Run every one of ``max_rounds`` rounds, even after the model says STATUS: DONE."""
    later_prompt: str | None
    """The user turn of rounds 2.. (None: the notes style's); ``{context}``, ``{notes}``, ``{max_chars}``."""
    extend: bool
    """Merge each round's lines into the notes so far (``sleeptime.notes.hygiene.extend_notes``) instead of
    letting its reply replace them."""


REWRITE = Rethink("rewrite", all_rounds=False, later_prompt=None, extend=False)
"""Each round rewrites the notes, up to ``max_rounds`` or until the model says it is done (the default)."""

EXTEND = Rethink("extend", all_rounds=True, later_prompt=USER_EXTEND, extend=True)
"""Exactly ``max_rounds`` rounds: round r reads the context and round r-1's notes, corrects wrong lines and
adds new ones; nothing it does not repeat is lost."""


@dataclass(frozen=True)
class QuestionWork:
    """How the sleep model answers the questions it predicts (``n_questions``)."""

    name: str
    budget: int | None
    """None: a short worked answer each, in the one JSON predict call. A verbosity level (0-4, the answer
    prompt's): the questions are listed first, then each is answered in its own call at that level, with the
    context and the notes, as the wake graph would answer it."""


SHORT = QuestionWork("short", None)
"""Short worked answers in the predict call (the default)."""

LEVEL4 = QuestionWork("level4", 4)
"""The sleep model works each predicted question step by step at verbosity level 4, re-checking every number
it takes from the notes; the worked answers reach the wake prompt as the expected questions do. With k samples
each lists and works its own questions from its own notes, and the worked questions of all k are kept: on 69 of the
decisive instances (``evals/results/decisive-base-2802-kq``) k = 4 held the gold answer in 16 examples against 7 at
k = 1, yet answered 16 against 18 right at level 0. One sample working 4 questions instead of 2 lost too (10 against
15 of 56 at level 0, ``evals/results/decisive-base-2802-q4``): the wake picks among more worked values; one
question (``evals/results/decisive-base-2802-q1``) held the whole gain (17 against 11 of 54 with none)."""


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
    show_map: bool = False
    """When ``describe``: whether the map leads the wake prompt of a large context (a stable prefix the warm-up
    saves) or stays in the learned version while the wake gives its share to evidence the descriptions still
    steer. Off by default, measured: on click-8.1.8 (36 SWE-Features tasks, the 1.5B's outline sleep) the 0.5B
    wake named the map's first files whatever the evidence said, F1 0.082 with the map against 0.479 without
    (``evals/results/swe-outline15b*``); a wake model that reads a map may do better with it on."""
    outline: bool = False
    """Describe a part from its outline (`sleeptime.large.outline`: names, signatures and first docstring
    lines; headings and first sentences) rather than its whole text: about a sixth of the prompt tokens."""


NOTES = PartStyle("notes", describe=False)
"""Notes per part, then a reduce and predicted questions (before issue 27)."""

DESCRIBE = PartStyle("describe", describe=True, max_tokens=160)
"""A description and questions per part that steer retrieval, and a map of the files; no reduce."""

OUTLINE = PartStyle("outline", describe=True, max_tokens=160, outline=True)
"""As `DESCRIBE`, each part described from its outline: the affordable sleep for a large folder."""


@dataclass(frozen=True)
class Experiment:
    """The strategies one sleep run uses; ``SleepTimeConfig.experiment=None`` means ``Experiment()``."""

    notes_style: NotesStyle = EXPRESSIONS
    sample_merge: SampleMerge = CONCAT
    rethink: Rethink = REWRITE
    question_work: QuestionWork = SHORT
    sampling: Sampling = TEMPERATURE
    retrieval: Retrieval = HYBRID
    """How wake finds a large context's evidence (``sleeptime.large.retrieval``)."""
    parts: PartStyle = NOTES
    """What sleep writes per part of a large context."""


NOTES_STYLES = {s.name: s for s in (EXPRESSIONS, WORKED)}
PART_STYLES = {s.name: s for s in (NOTES, DESCRIBE, OUTLINE)}
SAMPLE_MERGES = {m.name: m for m in (MAJORITY, CONCAT, RECONCILE, MEDOID)}
RETHINKS = {r.name: r for r in (REWRITE, EXTEND)}
QUESTION_WORK = {w.name: w for w in (SHORT, LEVEL4)}
SAMPLINGS = {s.name: s for s in (TEMPERATURE, VIEWED)}


def experiment_from_names(notes_style: str = "expressions", sample_merge: str = "concat",
                          rethink: str = "rewrite", question_work: str = "short",
                          sampling: str = "temperature") -> Experiment | None:
    """The experiment that command-line names choose (KeyError for an unknown one); None for the defaults."""
    chosen = Experiment(notes_style=NOTES_STYLES[notes_style], sample_merge=SAMPLE_MERGES[sample_merge],
                        rethink=RETHINKS[rethink], question_work=QUESTION_WORK[question_work],
                        sampling=SAMPLINGS[sampling])
    return None if chosen == Experiment() else chosen
