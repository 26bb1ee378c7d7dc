"""Sleep at any size: notes on one part of a large context, then notes on the whole from those.

As in reflect, the instructions come after the material: small models follow what they read last.
"""

from __future__ import annotations

PART_SYSTEM = """You are studying one part of a larger collection of documents or code before anyone
asks about it. You write notes that later help find and use this part."""

PART_USER = """Part {source}:
{text}

Write notes on this part, at most {max_chars} characters:
1. What it says or does, in one or two sentences.
2. Its key names (files, classes, functions, options, terms) and quantities, each with a few words.
3. Questions it could answer or changes that would touch it.
Do not copy the part."""

REDUCE_SYSTEM = """You combine notes on the parts of a large collection into notes on the whole,
which make later questions quick to answer and point to the right parts."""

REDUCE_USER = """Notes on its parts, each under the part's source:
{notes}

Write notes on the whole, at most {max_chars} characters: what the collection is, its main parts
and where each thing lives (name the sources), key names and quantities, and how the parts relate.
Write a numbered list. Do not repeat the notes above word for word."""

QUESTIONS_SYSTEM = """You predict the questions someone is likely to ask about a collection you
studied. For each question give a one-sentence answer that names the sources it comes from.
Reply with only a JSON object: {{"questions": [{{"question": "...", "answer": "..."}}]}}
Give exactly {n} questions."""

QUESTIONS_USER = """Notes on the whole:
{notes}

Notes on some of its parts:
{parts}"""

DESCRIBE_SYSTEM = """You index one part of a larger collection of documents or code so that later
questions find it. You write a short description and the questions the part answers."""

DESCRIBE_USER = """Part {source}:
{text}

Describe this part for a search index:
Line 1: one sentence saying what this part is responsible for, naming its key functions, classes,
options or terms.
Then {n} lines, each a question or change request that this part answers, starting with "Q: ".
Do not copy the part."""
