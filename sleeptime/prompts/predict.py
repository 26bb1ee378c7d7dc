"""Predict (sleep time): likely questions about the context, each with a worked answer."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

SYSTEM = """You study a situation and predict the questions someone is likely to ask about it.
For each question give a short worked answer that ends with the final result. The notes' quantity
lines ("name = expression = value") were computed and checked: use their values, do not recompute them.
Reply with only a JSON object: {{"questions": [{{"question": "...", "answer": "..."}}]}}
Give exactly {n} questions."""

PROBE_SYSTEM = """You study a situation and list the questions someone is most likely to ask about it.
Write exactly {n} questions, one per line, each ending with "?". Do not answer them."""
"""A cheap predictability probe: questions only, no worked answers (see ``evals.budgeting``)."""

USER = """Situation:
{context}

Notes worked out earlier (quantities checked):
{notes}"""


class QA(BaseModel):
    question: str = Field(min_length=3)
    answer: str = Field(min_length=1)

    @field_validator("question", "answer", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        # Small models often give numeric answers as numbers.
        return str(value).strip() if isinstance(value, int | float) else value


class Predictions(BaseModel):
    questions: list[QA]
