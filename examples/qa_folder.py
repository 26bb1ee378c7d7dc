"""Question answering over a folder of documents: ingest the folder, sleep on it, ask questions.

Run with: python -m examples.qa_folder --docs examples/docs
(add --scripted for an instant run on a scripted model; by default the embedded local model.)
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sleeptime.facade import SleepTime

QUESTIONS = ["How much do 3 pens and a notebook cost?", "When are notebooks restocked?"]


def build_app(store_path: str, *, scripted: bool) -> SleepTime:
    small: dict[str, Any] = {"max_rounds": 1, "n_questions": 2, "max_tokens_sleep": 256, "max_tokens_wake": 128}
    if not scripted:
        return SleepTime(path=store_path, **small)
    from langgraph.store.memory import InMemoryStore

    from sleeptime.testing import HashEmbeddings, scripted_model

    model = scripted_model()
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    return SleepTime(store=store, sleep_model=model, wake_model=model, **small)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", default=str(Path(__file__).with_name("docs")), help="folder of documents")
    parser.add_argument("--store", default=None, help="Chroma folder (default: a temporary one)")
    parser.add_argument("--question", action="append", help="a question to ask (repeatable)")
    parser.add_argument("--scripted", action="store_true", help="scripted model instead of the embedded one")
    args = parser.parse_args(argv)
    files = sorted(p for p in Path(args.docs).iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        parser.error(f"no documents in {args.docs}")
    with tempfile.TemporaryDirectory(prefix="sleeptime-qa-") as tmp:
        app = build_app(args.store or tmp, scripted=args.scripted)
        context_id = "docs"
        record = app.ingest(context_id, files=files)
        print(f"ingested {len(files)} file(s) as {context_id!r}: {record.n_chunks} chunk(s), {record.chars} chars")
        slept = app.sleep(context_id)
        print(f"slept: {slept.status} ({slept.usage.total_tokens} sleep tokens)")
        for question in args.question or QUESTIONS:
            answer = app.ask(question, context_id)
            print(f"\nQ: {question}\nA: {answer.answer.strip()}")
            print(f"   [{answer.route} version {answer.version}, {answer.wake_usage.total_tokens} wake tokens]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
