"""``python -m evals plot``: regenerate the tables and figures of every committed results folder (no model).

Walks a results folder (default ``evals/results``) in sorted order and reads nothing outside it:

* run dirs (``run.json`` + ``records.jsonl``): :func:`evals.plots.render_run`;
* note-quality records (``*.jsonl`` written by ``python -m evals notes``): per file ``<stem>.summary.md``,
  ``<stem>_quality.csv``, ``<stem>_accuracy.csv`` and ``<stem>.png`` beside it; where a folder holds several
  (sleep on another model, the test-time only and oracle arms measured once), the same as ``pooled.*`` for
  them pooled by example id;
* anything else (``summary.json`` of verified, adversarial, sleep-budget, swe) has its own command and is
  listed as left as it is.

Bootstrap intervals use a fixed seed and every table is sorted, so a rerun on the same records writes the same
bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.notes_tables import (
    accuracy_table,
    head_to_head_table,
    is_notes_records,
    pool_notes,
    quality_table,
    read_notes_records,
)
from evals.plots import markdown_table, plot_notes, render_run, write_csv
from evals.records import RECORDS_FILE, RUN_FILE, TEXTS_FILE
from sleeptime.errors import InvalidInputError


@dataclass
class ResultsIndex:
    """What a results folder holds, each list sorted."""

    run_dirs: list[Path] = field(default_factory=list)
    notes_files: list[Path] = field(default_factory=list)
    other_dirs: list[Path] = field(default_factory=list)
    """Folders with results of another kind (their own command writes their summaries)."""


def index_results(root: str | Path) -> ResultsIndex:
    base = Path(root)
    if not base.is_dir():
        raise InvalidInputError(f"results folder {base} not found (python -m evals plot [--results DIR])")
    index = ResultsIndex()
    for d in sorted([base, *(p for p in base.rglob("*") if p.is_dir())]):
        if (d / RUN_FILE).is_file() and (d / RECORDS_FILE).is_file():
            index.run_dirs.append(d)
            continue
        notes = [f for f in sorted(d.glob("*.jsonl")) if f.name not in (RECORDS_FILE, TEXTS_FILE)
                 and is_notes_records(_first_record(f))]
        index.notes_files += notes
        if not notes and any(f.suffix in (".json", ".jsonl") for f in d.iterdir() if f.is_file()):
            index.other_dirs.append(d)
    return index


def _first_record(path: Path) -> list[dict[str, Any]]:
    """The first line of a JSONL file as a record, to tell what wrote it (a corrupt file is read in full, and
    refused, only when rendered)."""
    with path.open(encoding="utf-8") as fh:
        try:
            row = json.loads(fh.readline())
        except json.JSONDecodeError:
            return []
    return [row] if isinstance(row, dict) else []


def notes_outputs(path: Path) -> dict[str, Path]:
    stem = path.with_suffix("")
    return {"summary": stem.with_name(stem.name + ".summary.md"), "quality": stem.with_name(stem.name + "_quality.csv"),
            "accuracy": stem.with_name(stem.name + "_accuracy.csv"), "figure": stem.with_suffix(".png")}


def render_notes(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Write the note-quality tables and bar figure of one notes records file beside it; return the tables."""
    src = Path(path)
    records = read_notes_records(src)
    if not is_notes_records(records):
        raise InvalidInputError(f"{src} holds no note-quality records (python -m evals notes writes them)")
    return _write_notes(records, src, f"`{src.name}` ({len(records)} records)", "this file's")


def render_pooled(files: Sequence[Path]) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The notes files of one folder pooled by example id (``pooled.*`` beside them), unless two files graded
    the same answer differently (then nothing is written); the tables and the number of such conflicts."""
    records, conflicts = pool_notes([read_notes_records(f) for f in files])
    if conflicts:
        return {}, conflicts
    names = ", ".join(f"`{f.name}`" for f in files)
    return _write_notes(records, files[0].with_name("pooled.jsonl"), f"{names} pooled by example id "
                        "(the first record of each id and key; the files' wake model and settings assumed the "
                        "same, as the records do not name them)", "the pooled"), 0


def _write_notes(records: list[dict[str, Any]], src: Path, what: str, whose: str) -> dict[str, list[dict[str, Any]]]:
    tables = {"quality": quality_table(records), "accuracy": accuracy_table(records)}
    out = notes_outputs(src)
    for name, rows in tables.items():
        write_csv(out[name], rows)
    head_to_head = head_to_head_table(records)
    title = f"notes: {src.stem}, {len({r['id'] for r in records})} examples"
    plot_notes(tables["quality"], tables["accuracy"], out["figure"], title)
    md = [f"# {title}", "",
          f"Regenerated by `python -m evals plot` from {what}; the commands that wrote the records are in this "
          "folder's README. Recall: gold intermediate values the notes state with the right value. Precision: "
          "stated derived values that are right (empty: nothing stated). Accuracy intervals: bootstrap 95%. "
          f"Pairing: each arm against {whose} `none` arm (test-time only) on the ids both answered, exact McNemar "
          "p; token_ratio = none's output tokens / the arm's.", ""]
    for name, rows in tables.items():
        md += [f"## {name}", "", markdown_table(rows)]
    if head_to_head:
        md += ["## head to head", "", "Two slept arms of one sleep model against each other on the ids both "
               "answered (exact McNemar p).", "", markdown_table(head_to_head)]
    md += ["## Figure", "", f"![{out['figure'].name}]({out['figure'].name})", ""]
    out["summary"].write_text("\n".join(md), encoding="utf-8")
    return tables


def notes_folders(index: ResultsIndex) -> dict[Path, list[Path]]:
    """Folder -> its notes files, for the folders holding more than one (those are pooled)."""
    by: dict[Path, list[Path]] = {}
    for f in index.notes_files:
        by.setdefault(f.parent, []).append(f)
    return {d: fs for d, fs in by.items() if len(fs) > 1}


def render_all(root: str | Path) -> list[str]:
    """Regenerate every run dir's and notes file's tables and figures under ``root``; one line per folder/file
    saying what was done."""
    index = index_results(root)
    lines: list[str] = []
    for d in index.run_dirs:
        tables = render_run(d)
        lines.append(f"{d}: run dir, tables {', '.join(sorted(tables))}")
    for f in index.notes_files:
        tables = render_notes(f)
        lines.append(f"{f}: notes records, {len(tables['accuracy'])} accuracy rows, "
                     f"{len(tables['quality'])} note-quality rows")
    for d, files in notes_folders(index).items():
        tables, conflicts = render_pooled(files)
        lines.append(f"{d}/pooled: {len(files)} notes files pooled, {len(tables['accuracy'])} accuracy rows"
                     if tables else f"{d}: not pooled, {conflicts} answers graded differently in two files")
    lines += [f"{d}: left as it is (its own command writes its summary)" for d in index.other_dirs]
    return lines
