"""The project's own tiny problems (own wording and numbers, free to ship): for unit tests and the demo."""

from __future__ import annotations

from evals.examples import Example, MultiQueryExample
from evals.splitting import split_context_question

# (id, full problem, exact answer). Multi-sentence, so each has a context and a question.
_PROBLEMS: list[tuple[str, str, str]] = [
    (
        "tiny-0",
        "Mira bakes 4 trays of rolls. Each tray holds 12 rolls. She gives away 15 rolls to her neighbours. "
        "How many rolls does she have left?",
        "33",
    ),
    (
        "tiny-1",
        "A bus ticket costs $2.50 and a train ticket costs $4.25. Dr. Osei buys 3 bus tickets and "
        "2 train tickets. How much does he spend in dollars?",
        "16",
    ),
    (
        "tiny-2",
        "A garden bed is 6 meters long and 3 meters wide. Each square meter needs 5 seeds. "
        "How many seeds are needed for the whole bed?",
        "90",
    ),
    (
        "tiny-3",
        "Tomas reads 18 pages on Monday. On Tuesday he reads twice as many pages as on Monday. "
        "The book has 100 pages. How many pages are left to read?",
        "46",
    ),
    (
        "tiny-4",
        "A tank holds 240 liters of water. A leak drains 1/4 of the water, and then 30 liters are added. "
        "How many liters are in the tank now?",
        "210",
    ),
    (
        "tiny-5",
        "Ms. Varga splits 7 kilograms of flour equally into 4 jars. How many kilograms of flour are in each jar?",
        "1.75",
    ),
    (
        "tiny-6",
        "A cyclist rides at 15 kilometers per hour for 2 hours, then at 12 kilometers per hour for "
        "1.5 hours. What total distance does the cyclist cover in kilometers?",
        "48",
    ),
    (
        "tiny-7",
        "Lena has 9 more marbles than Kofi. Kofi has 14 marbles. Together they give 10 marbles to a "
        "friend. How many marbles do Lena and Kofi have left together?",
        "27",
    ),
]

_MULTI: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "tiny-mq-0",
        "A school orders 8 boxes of pencils. Each box has 24 pencils. Pencils cost $0.30 each. "
        "The school already has 50 pencils in storage.",
        [
            ("How many pencils did the school order?", "192"),
            ("How much did the order cost in dollars?", "57.6"),
            ("How many pencils does the school have in total after the order arrives?", "242"),
        ],
    ),
    (
        "tiny-mq-1",
        "A farm has 3 fields. The first field yields 120 kilograms of beans, the second yields half as "
        "much as the first, and the third yields 45 kilograms more than the second.",
        [
            ("How many kilograms does the second field yield?", "60"),
            ("How many kilograms does the third field yield?", "105"),
            ("How many kilograms do the three fields yield altogether?", "285"),
        ],
    ),
]


def tiny_examples() -> list[Example]:
    """The 8 tiny problems, split by the sentence rule."""
    out = []
    for pid, text, answer in _PROBLEMS:
        s = split_context_question(text)
        out.append(Example(pid, s.context, s.question, answer, "tiny", {"full_question": text}))
    return out


def tiny_multi_query() -> list[MultiQueryExample]:
    """Two contexts with three questions each."""
    return [MultiQueryExample(cid, ctx, list(qs), "tiny") for cid, ctx, qs in _MULTI]
