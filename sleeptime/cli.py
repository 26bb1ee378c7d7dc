"""The `sleeptime` command: ingest, sleep, ask, demo, timeline.

Run with: sleeptime --help
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from sleeptime.config import DEFAULT_MODEL
from sleeptime.errors import SleeptimeError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sleeptime", description="Sleep-time compute for LangGraph.")
    p.add_argument("--store", default=".sleeptime/store", help="on-disk Chroma database (default: %(default)s)")
    p.add_argument("--url", default=None, help="Chroma server URL, e.g. http://127.0.0.1:8000 (instead of --store)")
    p.add_argument("--tenant", default="default")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model spec for both phases (default: %(default)s)")
    p.add_argument("--sleep-model", default=None, help="model spec while idle (default: --model)")
    p.add_argument("--wake-model", default=None, help="model spec at test time (default: --model)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server for openai:<model> specs")
    sub = p.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="store a context from text or files")
    ing.add_argument("context_id")
    ing.add_argument("files", nargs="*")
    ing.add_argument("--text", default=None)

    slp = sub.add_parser("sleep", help="reflect on a stored context and publish a learned context")
    slp.add_argument("context_id")
    slp.add_argument("--rounds", type=int, default=3, help="max rethink rounds")
    slp.add_argument("--samples", type=int, default=1, help="independent learned contexts (k)")
    slp.add_argument("--questions", type=int, default=3, help="predicted questions")

    ask = sub.add_parser("ask", help="answer a question about a context")
    ask.add_argument("context_id")
    ask.add_argument("question")
    ask.add_argument("--budget", type=int, default=1, choices=range(5), help="test-time budget level 0..4")
    ask.add_argument("--mode", choices=["sleep", "test-time"], default="sleep")
    ask.add_argument("--verify", choices=["off", "format", "model"], default="format")

    demo = sub.add_parser("demo", help="sleep on a sample context and compare answers with the baseline")
    demo.add_argument("--budget", type=int, default=1, choices=range(5))
    demo.add_argument("--rounds", type=int, default=2)
    tl = sub.add_parser("timeline", help="show the idle scheduler: change -> idle -> sleep -> answer from version N")
    tl.add_argument("--scripted", action="store_true", help="scripted model and in-memory store (instant)")
    tl.add_argument("--idle-after", type=float, default=2.0, help="seconds of quiet before a sleep run")
    return p


def _app(args: argparse.Namespace, **overrides: Any) -> Any:
    from sleeptime.facade import SleepTime

    return SleepTime(
        path=args.store, url=args.url, tenant=args.tenant,
        sleep_model=args.sleep_model or args.model, wake_model=args.wake_model or args.model,
        base_url=args.base_url, **overrides,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "ingest":
            record = _app(args).ingest(args.context_id, args.text, files=args.files)
            print(f"ingested {args.context_id!r}: revision {record.revision}, {record.n_chunks} chunk(s), "
                  f"{record.chars} chars")
        elif args.command == "sleep":
            app = _app(args, max_rounds=args.rounds, samples=args.samples, n_questions=args.questions)
            result = app.sleep(args.context_id, progress=True)
            print(result.status)
            for i, notes in enumerate(result.learned, 1):
                print(f"--- learned context {i} ---\n{notes}")
            for qa in result.questions:
                print(f"Q: {qa['question']}\nA: {qa['answer']}")
            print(f"sleep-time tokens: {result.usage.input_tokens} in, {result.usage.output_tokens} out")
        elif args.command == "ask":
            app = _app(args, verify=args.verify)
            answer = app.ask(args.question, args.context_id, mode=args.mode, budget=args.budget)
            print(answer.answer)
            print(f"[{answer.path}, version {answer.version}, {answer.verdict}: {answer.reason}; "
                  f"test-time tokens {answer.wake_usage.input_tokens} in, {answer.wake_usage.output_tokens} out]",
                  file=sys.stderr)
        elif args.command == "demo":
            from sleeptime.demo import run_demo

            run_demo(_app(args, max_rounds=args.rounds), budget=args.budget)
        elif args.command == "timeline":
            from sleeptime.demo import run_timeline

            run_timeline(scripted=args.scripted, idle_after=args.idle_after)
    except SleeptimeError as error:
        print(f"sleeptime: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
