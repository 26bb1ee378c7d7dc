"""A second adversarial set for verified matching, built by swaps rather than by the rules of evals/perturb.py.

Run with: python -m evals adversarial --data-dir ../shared/data --out evals/results/adversarial

:mod:`evals.perturb` writes each variant with one template per kind of fact the match rules read, so it
cannot find what the rules do not model. Here every question is changed by exchanging two things it
already says, so every word is kept and only their places move:

==============  ===============================================================================
kind            the two things swapped in the question sentence
==============  ===============================================================================
name            two names (template name slots, or capitalised words inside the sentence)
number          two numbers (digits, number words, template number slots)
noun            two nouns (template word slots, the noun after a number or "how many")
time            two time words (weekdays, months, parts of the day, day/week/month/year, ordinals)
comparison      the two sides of a comparison: the thing before "than" and the thing after it
from-to         the two ends of "from X to Y"
==============  ===============================================================================

Every swap changes the question, so its predicted answer must not be served: a served swap is a wrong
answer served. Swaps of two coordinated things ("Anna and Ben", "apples or pears") are left out, as
they may ask the same thing. Some swaps leave the answer equal by arithmetic (3 boxes of 4 vs 4 boxes
of 3); they still count as different questions, as a cache cannot know the coincidence.

The questions are the question sentences (the last sentence of each problem) of GSM-Symbolic's template
instances (``templates/{p1,p2,symbolic}/*.json``, whose ``#init`` lines class the slots) and of the 2,500
generated P2 problems (``generated_data/GSM_p2.jsonl``: other names, nouns and numbers), read from
``--data-dir`` at run time. Nothing derived from them is written: only ids (source, kind, character
offsets), scores and decisions.
Served means what the wake graph does: MiniLM cosine >= the threshold AND every rule check
(:func:`sleeptime.matching.decide`). Needs no chat model and no other part of ``evals``.

``--model-variants N`` instead asks a chat model (default the embedded 1.5B) for minimally different
questions and writes each pair with its decision outside the project, to be labelled by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeptime.experimental import PredictedQuestion, compare_facts, decide, extract_facts

TEMPLATE_SETS = ("p1", "p2", "symbolic")
KINDS = ("name", "number", "noun", "time", "comparison", "from-to")
THRESHOLD = 0.97

_SLOT = re.compile(r"\{(\w+),\s*([^{}]+?)\}")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z{$])")
_TIME = re.compile(
    r"(?i)^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekends?|january|february|march|april"
    r"|june|july|august|september|october|november|december|morning|afternoon|evening|night|today|tomorrow"
    r"|yesterday|days?|weeks?|months?|years?|hours?|minutes?|first|second|third|fourth|last|next|daily|weekly"
    r"|monthly|yearly|summer|winter|spring)$"
)
_NUMBER_WORDS = frozenset(re.findall(r"\w+", "one two three four five six seven eight nine ten eleven twelve twenty "
                                    "thirty forty fifty hundred thousand half twice double triple dozen"))
_FUNCTION = frozenset(re.findall(
    r"\w+",
    "a an the of in on at to for by with from into and or but if when how many much what which who is are was "
    "were do does did will would can could has have had his her their its this that these those each every "
    "more less fewer than as total number amount she he they it her him them all some any per",
))
_NAME_POOLS = ("names", "names_male", "names_female")


@dataclass(frozen=True)
class Slot:
    """A swappable word of a question sentence: where it is and what class it is."""

    start: int
    end: int
    cls: str


@dataclass(frozen=True)
class Swap:
    id: str
    source: str
    kind: str
    predicted: str
    question: str


def _slot_classes(annotated: str) -> dict[str, str]:
    """Template variable -> class (name, number, noun) from its ``#init`` line."""
    classes: dict[str, str] = {}
    init = annotated.split("#init:", 1)[1].split("#conditions", 1)[0] if "#init:" in annotated else ""
    for line in init.splitlines():
        m = re.match(r"\s*-\s*(.+?)\s*=\s*(\w+)\((.*)\)\s*$", line)
        if not m:
            continue
        names = [n.strip().lstrip("$") for n in m.group(1).split(",")]
        func, args = m.group(2), m.group(3).strip()
        if func == "sample" and args.split(",")[0].strip() in _NAME_POOLS:
            cls = "name"
        elif m.group(1).lstrip().startswith("$") or func in ("range", "randint") or "fraction" in args:
            cls = "number"
        elif func == "sample" and re.match(r"\[\s*['\"]", args):
            cls = "noun"
        else:
            continue
        for n in names:
            classes[n] = cls
    return classes


def question_sentence(annotated: str) -> tuple[str, list[Slot]]:
    """The last sentence of a template's default instance, with its template slots' spans and classes."""
    text = annotated.split("#init:", 1)[0].strip()
    classes = _slot_classes(annotated)
    last = _SENTENCE_END.split(text)[-1].strip()
    out, slots, pos = "", [], 0
    for m in _SLOT.finditer(last):
        out += last[pos : m.start()]
        value = m.group(2).strip()
        if m.group(1) in classes and re.fullmatch(r"[\w.'-]+", value):
            slots.append(Slot(len(out), len(out) + len(value), classes[m.group(1)]))
        out += value
        pos = m.end()
    return out + last[pos:], slots


def _literal_slots(sentence: str, taken: Sequence[Slot]) -> list[Slot]:
    """Words of the sentence itself that can be swapped: time words, numbers, names, counted nouns."""
    found: list[Slot] = []
    words = list(re.finditer(r"[A-Za-z]+(?:'s)?|\d+(?:[./]\d+)?", sentence))
    for i, m in enumerate(words):
        if any(s.start < m.end() and m.start() < s.end for s in taken):
            continue
        word, prev = m.group(0), words[i - 1].group(0).lower() if i else ""
        prev2 = words[i - 2].group(0).lower() if i > 1 else ""
        if _TIME.match(word):
            cls = "time"
        elif word[0].isdigit() or word.lower() in _NUMBER_WORDS:
            cls = "number"
        elif word[0].isupper() and i > 0 and word.lower() not in _FUNCTION:
            cls = "name"
        elif word.lower() not in _FUNCTION and word.endswith("s") and (
                prev[:1].isdigit() or prev in _NUMBER_WORDS or (prev2, prev) == ("how", "many")):
            cls = "noun"  # a plural right after a number or "how many": what is counted
        else:
            continue
        end = m.end() - 2 if word.endswith("'s") else m.end()
        found.append(Slot(m.start(), end, cls))
    return found


def _stem(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _fair(sentence: str, a: Slot, b: Slot) -> bool:
    """Whether swapping a and b surely changes the question into another sensible one.

    Not when they are the same word ("day" and "days"), coordinated ("Anna and Ben", "apples, pears",
    "Charlie, Dorothy, and James"), adjacent (two words of one name), or a digit and a number word
    ("25%" and "half").
    """
    wa, wb = sentence[a.start : a.end], sentence[b.start : b.end]
    between = sentence[a.end : b.start].strip()
    if _stem(wa) == _stem(wb) or between.lower() in ("", "and", "or", ",", "&", ", and", ", or"):
        return False
    if a.cls == "name" and all(w in ("and", "or") or w[0].isupper() for w in re.findall(r"\w+", between)):
        return False  # two ends of one list of names: "Charlie, Dorothy, and James"
    return not (a.cls == "number" and wa[0].isdigit() != wb[0].isdigit())


def _swap(sentence: str, a: Slot, b: Slot) -> str:
    wa, wb = sentence[a.start : a.end], sentence[b.start : b.end]
    return sentence[: a.start] + wb + sentence[a.end : b.start] + wa + sentence[b.end :]


def _first_content_after(sentence: str, at: int) -> Slot | None:
    for m in re.finditer(r"[A-Za-z]+(?:'s)?|\d+", sentence[at:]):
        if m.group(0).lower() not in _FUNCTION:
            end = m.end() - 2 if m.group(0).endswith("'s") else m.end()
            return Slot(at + m.start(), at + end, "side")
    return None


def _side_pairs(sentence: str, slots: Sequence[Slot]) -> list[tuple[str, Slot, Slot]]:
    """The two sides of each comparison and the two ends of each "from X to Y".

    A comparison's sides: the thing after "than" and, before it, either the word in the same place
    ("on a hot day than a cold day": hot / cold) or a swappable thing of the same class (names, nouns,
    numbers, time words: "does Anna earn than Ben").
    """
    pairs: list[tuple[str, Slot, Slot]] = []
    low = sentence.lower()
    for m in re.finditer(r"\bthan\b", low):
        after = _first_content_after(sentence, m.end())
        if after is None:
            continue
        follow = re.match(r"\s+(\w+)", sentence[after.end :])
        if follow and follow.group(1).lower() not in _FUNCTION:
            # "a hot day than a cold day": the word before the same "day" in the head.
            mirror = list(re.finditer(rf"(\w+)\s+{re.escape(follow.group(1))}\b", sentence[: m.start()]))
            if mirror and mirror[-1].group(1).lower() not in _FUNCTION:
                pairs.append(("comparison", Slot(mirror[-1].start(1), mirror[-1].end(1), "side"), after))
                continue
        same = [x for x in slots if x.start == after.start]
        cls = same[0].cls if same else ("name" if sentence[after.start].isupper() else None)
        pairs += [("comparison", x, after) for x in slots if cls is not None and x.cls == cls and x.end <= m.start()]
    for m in re.finditer(r"\bfrom\b", low):
        to = re.search(r"\bto\b", low[m.end() :])
        if to:
            start = _first_content_after(sentence, m.end())
            end = _first_content_after(sentence, m.end() + to.end())
            if start and end and start.end <= m.end() + to.start():
                pairs.append(("from-to", start, end))
    return pairs


def swaps_of(source: str, annotated: str, seen: set[tuple[str, str]]) -> list[Swap]:
    """Every fair swap of two same-class things, and of comparison sides, in one template's question sentence."""
    sentence, slots = question_sentence(annotated)
    slots = sorted(slots + _literal_slots(sentence, slots), key=lambda s: s.start)
    # Comparison sides first, so a swap of two names across "than" is labelled a comparison.
    pairs = _side_pairs(sentence, slots)
    pairs += [(a.cls, a, b) for i, a in enumerate(slots) for b in slots[i + 1 :] if a.cls == b.cls]
    out: list[Swap] = []
    for kind, a, b in pairs:
        if not _fair(sentence, a, b):
            continue
        swapped = _swap(sentence, a, b)
        if (sentence, swapped) in seen or swapped == sentence:
            continue
        seen.add((sentence, swapped))
        out.append(Swap(f"{source}:{kind}:{a.start}-{b.start}", source, kind, sentence, swapped))
    return out


def load_swaps(data_dir: Path, limit: int | None = None, instances: bool = True) -> list[Swap]:
    """Swaps over the template instances (with their slots' classes) and, with ``instances``, over the
    2,500 generated P2 problems (other names, nouns and numbers in the same templates; word classes only)."""
    root = data_dir / "gsm-symbolic"
    files = [p for name in TEMPLATE_SETS for p in sorted((root / "templates" / name).glob("*.json"))]
    if not files:
        raise SystemExit(f"no GSM-Symbolic templates under {root / 'templates'}")
    swaps: list[Swap] = []
    seen: set[tuple[str, str]] = set()  # p1, p2 and symbolic share templates: each pair once
    for path in files[:limit]:
        template = json.loads(path.read_text(encoding="utf-8"))
        swaps.extend(swaps_of(f"{path.parent.name}/{path.stem}", template["question_annotated"], seen))
    generated = root / "generated_data" / "GSM_p2.jsonl"
    if instances and generated.exists():
        lines = generated.read_text(encoding="utf-8").splitlines()
        for line in lines[: None if limit is None else limit * 10]:
            row = json.loads(line)
            swaps.extend(swaps_of(f"p2-instance/{row['id']}-{row['instance']}", row["question"], seen))
    return swaps


def cosine_scores(pairs: Sequence[tuple[str, str]]) -> list[float]:
    from sleeptime.experimental import MiniLMEmbeddings

    texts = sorted({t for pair in pairs for t in pair})
    vectors = dict(zip(texts, MiniLMEmbeddings().embed_documents(texts), strict=True))  # unit length
    return [sum(x * y for x, y in zip(vectors[a], vectors[b], strict=True)) for a, b in pairs]


def score(swaps: Sequence[Swap], threshold: float) -> list[dict[str, Any]]:
    """Per swap: its id, kind, cosine, which rule checks failed, and whether it would be served."""
    scores = cosine_scores([(s.question, s.predicted) for s in swaps])
    rows: list[dict[str, Any]] = []
    for s, cos in zip(swaps, scores, strict=True):
        failed = [r.check.value for r in compare_facts(extract_facts(s.question), extract_facts(s.predicted))]
        decision = decide(s.question, [(PredictedQuestion(question=s.predicted, answer="#### 0"), cos)], threshold)
        rows.append({"id": s.id, "kind": s.kind, "score": round(cos, 4), "rules_ok": not failed,
                     "failed_checks": failed, "served": decision.served, "similarity_only": cos >= threshold})
    return rows


def summarise(rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    def tally(mine: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"n": len(mine), "rules_pass": sum(r["rules_ok"] for r in mine),
                "similarity_at_or_above_threshold": sum(r["similarity_only"] for r in mine),
                "wrong_served": sum(r["served"] for r in mine)}

    first_failed: Counter[str] = Counter(r["failed_checks"][0] for r in rows if r["failed_checks"])
    return {
        "threshold": threshold, "items": len(rows),
        "sources": len({r["id"].rsplit(":", 2)[0] for r in rows}),
        "template_sources": len({r["id"].rsplit(":", 2)[0] for r in rows if not r["id"].startswith("p2-instance/")}),
        "all": tally(rows), "by_kind": {k: tally([r for r in rows if r["kind"] == k]) for k in KINDS},
        "first_failed_check": dict(first_failed.most_common()),
        "top_scores_passing_rules": sorted((r["score"] for r in rows if r["rules_ok"]), reverse=True)[:5],
    }


MODEL_SYSTEM = (
    "You write test questions. Given a question, write a new question that uses almost the same words but asks for "
    "something different, so that it has a different answer. Change only one or two words (for example swap two "
    "names, change which thing is counted, change the time period, or reverse a comparison). Reply with only the "
    "new question."
)


def model_variants(data_dir: Path, n: int, model_spec: str, out: Path, threshold: float) -> None:
    """Optional third set: a chat model asked for minimally different questions (written to ``out``, which
    holds GSM-derived text: keep it outside the project). Labels are not automatic: the model sometimes
    echoes or paraphrases, so each pair is to be read and marked same or different by hand."""
    import random

    from langchain_core.messages import HumanMessage, SystemMessage

    from sleeptime import resolve_chat_model

    questions = sorted({s.predicted for s in load_swaps(data_dir, instances=False)})
    random.Random(7).shuffle(questions)
    model = resolve_chat_model(model_spec, temperature=0.0, max_tokens=80)
    pairs = []
    for q in questions[:n]:
        reply = str(model.invoke([SystemMessage(MODEL_SYSTEM), HumanMessage(q)]).content).strip()
        pairs.append((q, reply.splitlines()[0].strip().strip('"') if reply else q))
    with out.open("w", encoding="utf-8") as fh:
        for (q, r), cos in zip(pairs, cosine_scores(pairs), strict=True):
            d = decide(r, [(PredictedQuestion(question=q, answer="#### 0"), cos)], threshold)
            fh.write(json.dumps({"predicted": q, "asked": r, "score": round(cos, 4), "served": d.served,
                                 "failed_checks": [c.check.value for c in d.failed]}) + "\n")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("evals/results/adversarial"))
    ap.add_argument("--limit", type=int, default=None, help="first N templates")
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--templates-only", action="store_true", help="leave out the generated P2 instances")
    ap.add_argument("--items", action="store_true", help="also write items.jsonl (ids, kinds, scores; no text)")
    ap.add_argument("--model-variants", type=int, default=0, metavar="N",
                    help="instead: ask --model for N minimally different questions (to label by hand)")
    ap.add_argument("--model", default="embedded:qwen2.5-coder-1.5b")
    ap.add_argument("--variants-out", type=Path, default=Path("/tmp/sleeptime-model-variants.jsonl"))


def run_cli(args: argparse.Namespace, argv: Sequence[str] = ()) -> str:
    """``python -m evals adversarial ...``: score the swap set (or write model variants); where the results are."""
    if args.model_variants:
        model_variants(args.data_dir, args.model_variants, args.model, args.variants_out, args.threshold)
        return str(args.variants_out)
    started = time.time()
    rows = score(load_swaps(args.data_dir, args.limit, not args.templates_only), args.threshold)
    summary = summarise(rows, args.threshold) | {"seconds": round(time.time() - started, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.items:
        with (args.out / "items.jsonl").open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    print(json.dumps({"items": summary["items"], "wrong_served": summary["all"]["wrong_served"],
                      "rules_pass": summary["all"]["rules_pass"]}, indent=2))
    return str(args.out / "summary.json")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    run_cli(ap.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
