"""Evaluation datasets: Stateful GSM-Symbolic base/P1/P2, Stateful AIME 2024, the project's tiny set.

Nothing here ships data. GSM-Symbolic is CC BY-NC-ND, so its files are read at run time from a folder laid
out like ``../shared/data`` (``data_dir``); the hub copies (``letta-ai/stateful-*``) are used only when
``source="hub"`` is asked for and the ``datasets`` package is importable.

Base and P1 instances are generated from Apple's annotated templates (``templates/symbolic/*.json`` and
``templates/p1/*.json``) with a seed by :mod:`evals.templates`, each with its worked solution
(``meta["solution"]``, the ``<<expr=value>>`` annotations filled in); where a template's ``#answer``
expression disagrees with its worked solution, it is recorded in ``Example.meta["answer_expr_agrees"]`` (see
:func:`evals.templates.check_templates`). The base level has the original GSM8K problems' difficulty, where a
0.5B-1.5B model is neither at the floor nor at the ceiling.

Ordering: GSM examples are ordered instance-major (instance 0 of every template, then instance 1, ...),
so ``limit=100`` covers many templates rather than two.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from evals.errors import DatasetError, require_path
from evals.examples import Example, MultiQueryExample
from evals.grading import format_number, parse_number
from evals.splitting import Split, SplitRule, split_context_question
from evals.templates import Instance, TemplateFailure, generate_instances, load_templates
from evals.tiny import tiny_examples

DatasetName = Literal["gsm-base", "gsm-p1", "gsm-p2", "aime", "tiny"]
DATASET_NAMES: tuple[str, ...] = ("gsm-base", "gsm-p1", "gsm-p2", "aime", "tiny")
#: Template-generated levels: dataset name -> (template folder, example id prefix).
GENERATED = {"gsm-base": ("symbolic", "base"), "gsm-p1": ("p1", "p1")}
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HUB_REPOS = {
    "gsm-p1": "letta-ai/stateful-gsm-symbolic",
    "gsm-p2": "letta-ai/stateful-gsm-symbolic",
    "aime": "letta-ai/stateful-aime-2024",
}


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``data_dir`` if given, else ``$SLEEPTIME_DATA_DIR``, else ``../shared/data`` from the project root."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("SLEEPTIME_DATA_DIR")
    return Path(env) if env else DEFAULT_DATA_DIR


# ====================================================================== loaders


def _gsm_example(
    ex_id: str, text: str, answer: str, source: str, split_rule: SplitRule, meta: dict[str, Any]
) -> Example:
    s = split_context_question(text, split_rule)
    return Example(ex_id, s.context, s.question, answer, source, {"full_question": text, **meta})


def _gold_from_hashes(answer: str) -> str:
    gold = answer.rsplit("####", 1)[1].strip()
    value = parse_number(gold)
    return format_number(value) if value is not None else gold


def load_gsm_p2(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    split_rule: SplitRule = "sentence",
) -> list[Example]:
    """P2 as Apple released it (its instances are fixed): each instance of every template in turn, from instance
    ``seed`` (modulo the number of instances), so a new seed reads instances that seed 0's first examples did not."""
    path = require_path(resolve_data_dir(data_dir) / "gsm-symbolic/generated_data/GSM_p2.jsonl", "GSM_p2.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    instances = max((int(r["instance"]) for r in rows), default=0) + 1
    rows.sort(key=lambda r: ((int(r["instance"]) - seed) % instances, int(r["id"])))
    out: list[Example] = []
    for r in rows:
        if limit is not None and len(out) >= limit:
            break
        ex = _gsm_example(
            f"p2-{int(r['id']):04d}-{int(r['instance'])}",
            r["question"],
            _gold_from_hashes(r["answer"]),
            "gsm-p2",
            split_rule,
            {"template": int(r["id"]), "instance": int(r["instance"]), "solution": r["answer"]},
        )
        if _has_context(ex):
            out.append(ex)
    return out


def load_gsm_generated(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    split_rule: SplitRule = "sentence",
    per_template: int = 50,
    failures: list[TemplateFailure] | None = None,
) -> list[Example]:
    """Generate ``"gsm-base"`` (GSM-Symbolic's base level, the original problems' difficulty) or ``"gsm-p1"``
    from their templates with ``seed``. Unsatisfiable templates are skipped and appended to ``failures``."""
    if name not in GENERATED:
        raise DatasetError(f"{name!r} is not generated from templates; those are {', '.join(GENERATED)}")
    folder, prefix = GENERATED[name]
    failed: list[TemplateFailure] = []
    templates = load_templates(resolve_data_dir(data_dir) / "gsm-symbolic/templates" / folder, failed)
    asked = limit
    while True:  # a limit gives a prefix of the full set, so asking for more only appends instances
        pairs, gen_failed = generate_instances(templates, per_template=per_template, seed=seed, limit=asked)
        out = [ex for ex in _generated_examples(pairs, name, prefix, seed, split_rule) if _has_context(ex)]
        if limit is None or asked is None or len(out) >= limit or len(pairs) < asked:
            break
        asked += limit - len(out)
    failed += gen_failed
    if failures is not None:
        failures.extend(failed)
    return out[:limit] if limit is not None else out


def _has_context(ex: Example) -> bool:
    """A stateful example needs a context to sleep on. A problem that is a single question sentence ("If Kenji
    eats 6 eggs a day ..., how many dozens ...?") leaves none after the split, so it is left out."""
    return bool(ex.context.strip())


def _generated_examples(pairs: Sequence[tuple[int, Instance]], source: str, prefix: str, seed: int,
                        split_rule: SplitRule) -> list[Example]:
    out = []
    for i, inst in pairs:
        agrees = (
            None
            if inst.answer_expr_value is None
            else parse_number(inst.answer_expr_value) == parse_number(inst.answer)
        )
        out.append(
            _gsm_example(
                f"{prefix}-{inst.template_id.split('/')[-1]}-{i}",
                inst.question,
                inst.answer,
                source,
                split_rule,
                {
                    "template": inst.template_id,
                    "instance": i,
                    "seed": seed,
                    "answer_expr_value": inst.answer_expr_value,
                    "answer_expr_agrees": agrees,
                    "variables": inst.variables,
                    "solution": inst.solution,
                    "expressions": list(inst.expressions),
                },
            )
        )
    return out


# AIME problems whose sentence split is wrong, as id -> (start, end) character span of the question in
# the problem text (end None: to the end); the context is the rest of the text. Decided by reading each
# problem; no problem text is stored here. 77: the question is the whole (single-sentence) problem, the
# sentence rule stopped inside a display equation. 81 and 83: the question comes first and a diagram or
# worked example follows. 88: the question sits before an [asy] diagram. Not overridden: 72 (one sentence,
# empty context) and 89 (the rule already finds "Find the number of ways ...").
AIME_SPLIT_OVERRIDES: dict[int, tuple[int, int | None]] = {
    77: (0, None),
    81: (0, 179),
    83: (0, 218),
    88: (555, 566),
}


def split_span(text: str, start: int, end: int | None) -> Split:
    """The question is ``text[start:end]``; the context is the text around it."""
    stop = len(text) if end is None else end
    if not 0 <= start <= stop <= len(text):
        raise ValueError(f"question span ({start}, {end}) outside the text (length {len(text)})")
    context = (text[:start].strip() + "\n" + text[stop:].strip()).strip()
    return Split(context=context, question=text[start:stop].strip())


def load_aime(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    limit: int | None = None,
    split_rule: SplitRule = "sentence",
) -> list[Example]:
    path = require_path(resolve_data_dir(data_dir) / "aime-2024/aime24_test.jsonl", "aime24_test.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for r in rows[:limit] if limit is not None else rows:
        pid = int(r["id"])
        text = str(r["problem"])
        split: Split
        if split_rule == "sentence" and pid in AIME_SPLIT_OVERRIDES:
            split = split_span(text, *AIME_SPLIT_OVERRIDES[pid])
        else:
            split = split_context_question(text, split_rule)
        out.append(
            Example(
                f"aime24-{pid}",
                split.context,
                split.question,
                str(int(str(r["answer"]).strip())),
                "aime-2024",
                {"full_question": text, "override": split_rule == "sentence" and pid in AIME_SPLIT_OVERRIDES},
            )
        )
    return out


def _pick_column(columns: Sequence[str], *needles: str, avoid: tuple[str, ...] = ()) -> str | None:
    for needle in needles:
        for c in columns:
            if needle in c.lower() and not any(a in c.lower() for a in avoid):
                return c
    return None


def load_from_hub(name: str, *, limit: int | None = None, split: str = "test") -> list[Example]:
    """The authors' own splits from the HuggingFace hub (needs ``datasets`` and network)."""
    if name not in HUB_REPOS:
        raise DatasetError(f"no hub copy for {name!r}; hub datasets: {sorted(HUB_REPOS)}")
    try:
        # Lazy: the hub loader needs the `datasets` package, which is not a dependency of this project.
        import datasets as hf_datasets  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise DatasetError(
            "source='hub' needs the 'datasets' package (not a dependency of this project). Use the local "
            "folder instead: source='local' with --data-dir pointing at files laid out like ../shared/data."
        ) from exc
    repo = HUB_REPOS[name]
    config = {"gsm-p1": "P1", "gsm-p2": "P2"}.get(name)
    try:
        ds = hf_datasets.load_dataset(repo, config) if config else hf_datasets.load_dataset(repo)
    except Exception as exc:  # network, auth, or layout: all mean "use the local folder"
        raise DatasetError(
            f"could not load {repo} from the hub ({exc}). Offline, use the local folder: source='local' "
            "with --data-dir."
        ) from exc
    table = ds[split] if split in ds else ds[next(iter(ds))]
    cols = list(table.column_names)
    c_ctx = _pick_column(cols, "context")
    c_q = _pick_column(cols, "stateful_gsm_symbolic_question", "question", avoid=("original", "context"))
    c_a = _pick_column(cols, "answer", avoid=("original",))
    if not (c_ctx and c_q and c_a):
        raise DatasetError(f"unexpected columns in {repo}: {cols}")
    out = []
    for i, row in enumerate(table):
        if limit is not None and i >= limit:
            break
        ans = str(row[c_a])
        gold = _gold_from_hashes(ans) if "####" in ans else ans.strip()
        out.append(Example(f"{name}-hub-{i}", str(row[c_ctx]), str(row[c_q]), gold, f"{name}:hub", {}))
    return out


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    split_rule: SplitRule = "sentence",
    source: Literal["local", "hub"] = "local",
) -> list[Example]:
    """Load ``"gsm-base"``, ``"gsm-p1"``, ``"gsm-p2"``, ``"aime"`` or ``"tiny"`` as a list of :class:`Example`.

    ``seed`` generates base and P1 from their templates and chooses P2's first instance; ``limit`` keeps the
    first examples.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0")
    if name not in DATASET_NAMES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    if source == "hub":
        return load_from_hub(name, limit=limit)
    if source != "local":
        raise DatasetError(f"unknown source {source!r}; use 'local' or 'hub'")
    if name == "tiny":
        items = tiny_examples()
        return items[:limit] if limit is not None else items
    if name == "gsm-p2":
        return load_gsm_p2(data_dir, limit=limit, seed=seed, split_rule=split_rule)
    if name in GENERATED:
        return load_gsm_generated(name, data_dir, limit=limit, seed=seed, split_rule=split_rule)
    return load_aime(data_dir, limit=limit, split_rule=split_rule)


def group_by_context(examples: Iterable[Example]) -> list[MultiQueryExample]:
    """Examples sharing a context, as multi-query items (first-seen order)."""
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(ex.context, []).append(ex)
    return [
        MultiQueryExample(
            context_id=members[0].id,
            context=ctx,
            questions=[(m.question, m.answer) for m in members],
            source=members[0].source,
        )
        for ctx, members in groups.items()
    ]


# ====================================================================== multi-query JSONL cache


def append_multi_query(path: str | os.PathLike[str], item: MultiQueryExample) -> None:
    """Append one item (for resumable generation)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    row = asdict(item)
    row["questions"] = [{"question": q, "answer": a} for q, a in item.questions]
    with p.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def iter_multi_query(path: str | os.PathLike[str]) -> Iterator[MultiQueryExample]:
    p = Path(path)
    if not p.exists():
        return
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield MultiQueryExample(
                    context_id=str(row["context_id"]),
                    context=str(row["context"]),
                    questions=[(str(q["question"]), str(q["answer"])) for q in row["questions"]],
                    source=str(row.get("source", "")),
                    meta=dict(row.get("meta", {})),
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                if n > 0 and not line.endswith("\n"):
                    return  # a torn last line from an interrupted append: ignore it
                raise DatasetError(f"{p}:{n}: bad multi-query row: {exc}") from exc


def read_multi_query(path: str | os.PathLike[str]) -> list[MultiQueryExample]:
    """Read a JSONL cache written by :func:`append_multi_query`; a missing file reads as empty."""
    return list(iter_multi_query(path))
