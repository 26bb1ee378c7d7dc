"""The `sleeptime` command: ingest, sleep, ask, list, show, delete, demo, timeline.

Run with: sleeptime --help. Every command takes ``--scripted`` (a scripted model and hash
embeddings, no model needed, in its own store folder). Errors print as one line and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sleeptime.config import DEFAULT_MODEL
from sleeptime.errors import InvalidInputError, SleepTimeError
from sleeptime.notes.strategies import NOTES_STYLES, RETHINKS, SAMPLE_MERGES, SAMPLINGS, experiment_from_names

logger = logging.getLogger(__name__)

DEFAULT_STORE = ".sleeptime/store"
SCRIPTED_STORE = ".sleeptime/scripted"
"""A separate folder: the scripted run's 64-dimension hash vectors cannot share a collection with MiniLM's."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as every other CLI error; `--help` still shows the usage.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _common(p: argparse.ArgumentParser, *, top: bool) -> None:
    # The same flags before or after the command; after it, they override only when given.
    d = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    p.add_argument("--store", default=d(None), help=f"on-disk Chroma database (default: {DEFAULT_STORE}, "
                   f"or {SCRIPTED_STORE} with --scripted)")
    p.add_argument("--url", default=d(None), help="Chroma server URL, e.g. http://127.0.0.1:8000 (instead of --store)")
    p.add_argument("--tenant", default=d("default"))
    p.add_argument("--scripted", action="store_true", default=d(False),
                   help="a scripted model and hash embeddings: try every command with no model (instant)")
    p.add_argument("--model", default=d(DEFAULT_MODEL), help=f"model spec for both phases (default: {DEFAULT_MODEL})")
    p.add_argument("--sleep-model", default=d(None), help="model spec while idle (default: --model)")
    p.add_argument("--wake-model", default=d(None), help="model spec at test time (default: --model)")
    p.add_argument("--base-url", default=d(None), help="OpenAI-compatible server for openai:<model> specs")
    p.add_argument("--set", action="append", default=d([]), metavar="KEY=VALUE", dest="options",
                   help="any SleepTimeConfig option, e.g. --set max_tokens_wake=128 (repeatable)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sleeptime", description="Sleep-time compute for LangGraph.")
    _common(p, top=True)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        _common(cmd, top=False)
        return cmd

    ing = command("ingest", "store a context from text, files or a folder")
    ing.add_argument("context_id")
    ing.add_argument("files", nargs="*", help="files, or one folder (walked recursively, .gitignore honoured)")
    ing.add_argument("--include", action="append", default=[], help="glob of folder files to take (repeatable)")
    ing.add_argument("--exclude", action="append", default=[], help="glob of folder files to leave out (repeatable)")
    ing.add_argument("--text", default=None)

    slp = command("sleep", "reflect on a stored context and publish a learned context")
    slp.add_argument("context_id")
    slp.add_argument("--rounds", type=int, default=3,
                     help="reflect rounds, at most: with --rethink rewrite (the default) a round whose model says "
                          "its notes are done (STATUS: DONE) is the last; --rethink extend runs exactly this many")
    slp.add_argument("--rethink", choices=sorted(RETHINKS), default="rewrite",
                     help="rewrite: each round rewrites the notes until done; extend: every round corrects and "
                          "extends the last one's notes")
    slp.add_argument("--samples", type=int, default=1, help="independent learned contexts (k)")
    slp.add_argument("--sample-merge", choices=sorted(SAMPLE_MERGES), default="concat",
                     help="majority: keep the values most samples computed; concat: concatenate the samples (the "
                     "paper); reconcile: agreement kept once by value, disagreements labelled (k >= 3: by majority); "
                     "medoid: the one sample whose numbers agree most with the others'")
    slp.add_argument("--sampling", choices=sorted(SAMPLINGS), default="temperature",
                     help="what makes the samples differ: temperature (drawn again at the sample temperature) or "
                     "views (each greedy, with its own focus)")
    slp.add_argument("--questions", type=int, default=3, help="predicted questions")
    slp.add_argument("--notes-style", choices=sorted(NOTES_STYLES), default="expressions",
                     help="name = expression lines, or worked items checked where readable (sleeptime.experimental)")

    ask = command("ask", "answer a question about a context")
    ask.add_argument("context_id")
    ask.add_argument("question")
    ask.add_argument("--budget", type=int, default=1, choices=range(5), help="test-time budget level 0..4")
    ask.add_argument("--mode", choices=["learned", "test-time"], default="learned",
                     help="answer from the learned context, or test-time only (the baseline)")
    ask.add_argument("--verify", choices=["off", "format", "model"], default="format")
    out = ask.add_mutually_exclusive_group()
    out.add_argument("--stream", action="store_true", help="print the answer's tokens as the model writes them")
    out.add_argument("--json", action="store_true", help="print the whole Answer (route, reason, usage) as JSON")

    ls = command("list", "list the tenant's contexts: raw revision, size, published version")
    ls.add_argument("--json", action="store_true")
    show = command("show", "one context: revision, kept versions, head, sleep usage, the published notes and "
                   "predicted questions")
    show.add_argument("context_id")
    show.add_argument("--json", action="store_true")
    rm = command("delete", "delete a context (everything stored for it) or one version")
    rm.add_argument("context_id")
    rm.add_argument("--version", type=int, default=None, help="delete only this learned-context version")

    demo = command("demo", "sleep on a sample context and compare answers with the baseline")
    demo.add_argument("--budget", type=int, default=1, choices=range(5))
    demo.add_argument("--rounds", type=int, default=2)
    tl = command("timeline", "show the idle scheduler: change -> idle -> sleep -> answer from version N")
    tl.add_argument("--idle-after", type=float, default=2.0, help="seconds of quiet before a sleep run")
    return p


def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw  # a bare word: a string option such as a model spec
    return options


def _app(args: argparse.Namespace, **options: Any) -> Any:
    """The app the flags describe; `--set KEY=VALUE` (SleepTimeConfig keys only) wins over the flags."""
    from sleeptime.config import check_keys
    from sleeptime.facade import SleepTime

    overrides = _parse_options(args.options)
    check_keys(overrides)
    if args.scripted:
        from sleeptime.testing import HashEmbeddings, scripted_model

        model = scripted_model()
        flags: dict[str, Any] = {"tenant": args.tenant, "sleep_model": model, "wake_model": model}
        return SleepTime(path=args.store or SCRIPTED_STORE, url=args.url, embeddings=HashEmbeddings(64),
                         **{**flags, **options, **overrides})
    flags = {"tenant": args.tenant, "sleep_model": args.sleep_model or args.model,
             "wake_model": args.wake_model or args.model, "base_url": args.base_url}
    return SleepTime(path=args.store or DEFAULT_STORE, url=args.url, **{**flags, **options, **overrides})


def _print_show(info: Any) -> None:
    head = f"version {info.head}" if info.head is not None else "not slept yet"
    print(f"{info.context_id} (tenant {info.tenant}): revision {info.revision}, {info.n_chunks} chunk(s), "
          f"{info.chars} chars, published: {head}{' (stale: the context changed since)' if info.stale else ''}")
    print(f"sources: {', '.join(info.sources)}; updated {info.updated_at}")
    for v in info.versions:
        mark = "*" if v.version == info.head else " "
        print(f"{mark} version {v.version}: from revision {v.source_revision}, {v.samples} sample(s), "
              f"{v.learned_chars} chars, sleep tokens {v.sleep_usage.input_tokens} in / "
              f"{v.sleep_usage.output_tokens} out, created {v.created_at}")
        for qa in v.questions:
            print(f"    Q: {qa['question']}\n    A: {qa['answer']}")


def _run(args: argparse.Namespace) -> None:
    if args.command == "ingest":
        folders = [f for f in args.files if Path(f).is_dir()]
        files = [f for f in args.files if not Path(f).is_dir()]
        if len(folders) > 1:
            raise InvalidInputError(f"give at most one folder, got {folders}")
        record = _app(args).ingest(args.context_id, args.text, files=files, folder=folders[0] if folders else None,
                                   include=args.include, exclude=args.exclude)
        print(f"ingested {args.context_id!r}: revision {record.revision}, {record.n_chunks} chunk(s), "
              f"{record.chars} chars")
        for skip in record.skipped:
            print(f"skipped {skip.path}: {skip.reason}")
    elif args.command == "sleep":
        app = _app(args, max_rounds=args.rounds, samples=args.samples, n_questions=args.questions,
                   experiment=experiment_from_names(args.notes_style, args.sample_merge, args.rethink,
                                                  sampling=args.sampling))
        result = app.sleep(args.context_id, progress=True)
        print(result.status)
        for i, notes in enumerate(result.learned, 1):
            print(f"--- learned context {i} ---\n{notes}")
        for qa in result.questions:
            print(f"Q: {qa['question']}\nA: {qa['answer']}")
        warm = result.warm_usage
        print(f"sleep-time tokens: {result.usage.input_tokens} in, {result.usage.output_tokens} out "
              f"({result.usage.calls} calls)" + (f"; prefix warm-up {warm.input_tokens} in" if warm.calls else ""))
    elif args.command == "ask":
        app = _app(args, verify=args.verify)
        if args.stream:
            for token in app.stream_answer(args.question, args.context_id, mode=args.mode, budget=args.budget):
                print(token, end="", flush=True)
            print()
            return
        answer = app.ask(args.question, args.context_id, mode=args.mode, budget=args.budget)
        if args.json:
            print(answer.model_dump_json(indent=2))
            return
        print(answer.answer)
        if answer.sources:
            print("sources: " + ", ".join(answer.sources))
        print(f"[{answer.route}, version {answer.version}, {answer.verdict}: {answer.reason}; "
              f"test-time tokens {answer.wake_usage.input_tokens} in, {answer.wake_usage.output_tokens} out]",
              file=sys.stderr)
    elif args.command == "list":
        contexts = _app(args).contexts()
        if args.json:
            print(json.dumps([c.model_dump() for c in contexts], indent=2))
        for c in [] if args.json else contexts:
            head = f"version {c.head}" if c.head is not None else "not slept"
            print(f"{c.context_id}\trevision {c.revision}\t{c.chars} chars\t{head}\tupdated {c.updated_at}")
    elif args.command == "show":
        app = _app(args)
        info = app.show(args.context_id)
        if args.json:
            print(info.model_dump_json(indent=2))
        else:
            _print_show(info)
            learned = app.learned(args.context_id) if info.head is not None else None
            if learned is not None:
                print(f"--- notes of version {learned.version} ---\n{learned.text}")
    elif args.command == "delete":
        _app(args).delete(args.context_id, version=args.version)
        what = f"version {args.version} of " if args.version is not None else ""
        print(f"deleted {what}{args.context_id!r}")
    elif args.command == "demo":
        from sleeptime.demo import run_demo

        run_demo(_app(args, max_rounds=args.rounds), budget=args.budget)
    elif args.command == "timeline":
        from sleeptime.demo import run_timeline

        run_timeline(scripted=args.scripted, idle_after=args.idle_after)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except (SleepTimeError, OSError) as error:
        print(f"sleeptime: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sleeptime: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # never a traceback on the terminal; the log has it for a bug report
        logger.debug("unexpected error", exc_info=True)
        print(f"sleeptime: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
