"""Graph state schemas. `typing_extensions.TypedDict` so the LangGraph server keeps the schemas on 3.11."""

from __future__ import annotations

import operator
from typing import Annotated, Literal, NotRequired

from typing_extensions import TypedDict

from sleeptime.inputs import Mode
from sleeptime.usage import UsageRecord

AnswerPath = Literal["learned", "test-time", "predicted"]
"""``predicted``: a predicted question's stored answer, served after a verified match (no generation)."""


class PartSpec(TypedDict):
    """One part of a large context: a file, or a section of one, that fits one sleep prompt."""

    key: str
    """Digest of its chunks and the sleep model: equal keys mean notes can be reused."""
    source: str
    start_line: int
    end_line: int
    text: str


def merge_notes(left: dict[str, str], right: dict[str, str]) -> dict[str, str]:
    return {**left, **right}


class PredictedQuestion(TypedDict):
    question: str
    answer: str
    sample: NotRequired[int]
    """The reflect sample whose notes it was predicted and worked from (question work on k samples)."""


class SleepInput(TypedDict):
    context_id: str
    text: NotRequired[str]
    """New context text; omitted to sleep again on what is already stored."""
    files: NotRequired[list[str]]
    """Files to load as context (text, Markdown, PDF, ... through langchain-community loaders)."""
    folder: NotRequired[str]
    """A folder to load as context (recursive, .gitignore honoured; see `sleeptime.large.sources`)."""
    include: NotRequired[list[str]]
    exclude: NotRequired[list[str]]
    """Gitignore-style globs, relative to `folder`, narrowing what is loaded from it."""


class SampleInput(TypedDict):
    """What one reflect sample is sent (the `Send` fan-out's payload)."""

    sample: int
    raw_context: str


class SampleNotes(TypedDict):
    """One sample's checked notes, as rendered by ``sleeptime.notes.hygiene``."""

    sample: int
    notes: str
    truncated: bool
    """Still cut off at the token limit after a continuation call (its unfinished last line dropped)."""
    dropped: int
    """Lines left out: leaked, copied, cut off, or quantities that did not evaluate."""
    unchecked: int
    """Lines published although their arithmetic could not be read (the ``WORKED`` notes style)."""


def add_or_reset(left: list[SampleNotes] | None, right: list[SampleNotes] | None) -> list[SampleNotes]:
    """Samples from parallel tasks add up; an empty list (from ingest) starts a run afresh."""
    if not right:
        return []
    return [*(left or []), *right]


class SleepState(SleepInput):
    revision: NotRequired[int]
    """Revision of the stored raw context this run works from."""
    raw_context: NotRequired[str]
    samples: Annotated[list[SampleNotes], add_or_reset]
    """Each reflect sample's notes, merged into `learned` by the merge node."""
    learned: NotRequired[list[str]]
    """The learned context: one block, the k samples' merged notes."""
    questions: NotRequired[list[PredictedQuestion]]
    warnings: NotRequired[list[str]]
    """What the run could not do fully (notes cut off, fewer predicted questions than asked); publish
    appends them to `status`."""
    version: NotRequired[int]
    published: NotRequired[bool]
    status: NotRequired[str]
    usage: Annotated[list[UsageRecord], operator.add]
    skipped: NotRequired[list[str]]
    """Files of the folder left out, as "path: reason"."""
    parts: NotRequired[list[PartSpec]]
    """A context too large for one sleep prompt, in parts (empty: it fits; see `sleeptime.nodes.sleep.parts`)."""
    part_notes: Annotated[dict[str, str], merge_notes]
    """Notes per part key: reused from an earlier sleep or written by this one."""


class SleepOutput(TypedDict):
    context_id: str
    version: NotRequired[int]
    published: NotRequired[bool]
    status: NotRequired[str]
    warnings: NotRequired[list[str]]
    learned: NotRequired[list[str]]
    questions: NotRequired[list[PredictedQuestion]]
    samples: NotRequired[list[SampleNotes]]
    usage: list[UsageRecord]
    skipped: NotRequired[list[str]]


class MatchInfo(TypedDict):
    """The match step's decision: which predicted question, its score, and every check's result."""

    served: bool
    reason: str
    question: str | None
    answer: str | None
    score: float | None
    checks: dict[str, str]


class WakeInput(TypedDict):
    question: str
    context_id: NotRequired[str]
    """Omitted (or mode='test-time' without stored context) for a plain question."""
    mode: NotRequired[Mode]
    """'learned' answers from the learned context; 'test-time' is the baseline with the raw context only."""
    budget: NotRequired[int]
    """Overrides the configured test-time budget level (0..4)."""


class WakeState(WakeInput):
    note: NotRequired[str]
    """Why the route differs from the mode asked for (a learned ask answered test-time); prefixes the reason."""
    version: NotRequired[int | None]
    revision: NotRequired[int]
    """The raw revision the answer reads (the version's source, or the current one at test time):
    a reference, read through the store by `gather`."""
    learned: NotRequired[str]
    raw_context: NotRequired[str]
    """What the answer prompt shows of `revision`: all of it when it fits, else retrieved pieces."""
    related: NotRequired[list[PredictedQuestion]]
    current_budget: NotRequired[int]
    with_raw_context: NotRequired[bool]
    answer: NotRequired[str]
    verdict: NotRequired[str]
    reason: NotRequired[str]
    escalations: NotRequired[int]
    path: NotRequired[AnswerPath]
    usage: Annotated[list[UsageRecord], operator.add]
    sleep_usage: NotRequired[list[UsageRecord]]
    related_scores: NotRequired[list[float | None]]
    """The store's similarity score of each `related` question (only when serve_predicted is on)."""
    predicted_match: NotRequired[MatchInfo]
    sources: NotRequired[list[str]]
    """Citations (`path:start-end`) of the retrieved pieces the answer was given (large contexts)."""


class WakeOutput(TypedDict):
    question: str
    answer: str
    path: AnswerPath
    version: NotRequired[int | None]
    verdict: str
    reason: str
    note: NotRequired[str]
    escalations: int
    current_budget: int
    usage: list[UsageRecord]
    sleep_usage: NotRequired[list[UsageRecord]]
    predicted_match: NotRequired[MatchInfo]
    sources: NotRequired[list[str]]
