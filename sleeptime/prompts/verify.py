"""Verify (test time): a cheap check of the proposed answer before it is served."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

SYSTEM = """You check answers. Given a situation, a question and a proposed answer, decide whether
the answer follows from the situation. Reply with only a JSON object:
{"verdict": "accept" or "reject", "reason": "<one short sentence>"}"""

USER = """Situation:
{context}

Question: {question}

Proposed answer: {answer}"""


class Verdict(BaseModel):
    verdict: Literal["accept", "reject"]
    reason: str = ""
