"""The ``thesis`` command line.

Each area of the library contributes its own subcommands through a ``register(subparsers)``
function in a ``cli`` module of its own; this file only collects them. Heavy imports
(TensorFlow, Keras) happen inside the subcommands, so ``thesis --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from thesis_lib import __version__
from thesis_lib.errors import ThesisError

# Modules that define ``register(subparsers)``; listed in the order they appear in --help.
SUBCOMMAND_MODULES: list[str] = [
    "thesis_lib.cli.data",
    "thesis_lib.cli.models",
    "thesis_lib.cli.train",
    "thesis_lib.cli.grid",
    "thesis_lib.cli.analysis",
    "thesis_lib.cli.pipeline",
    "thesis_lib.cli.release",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thesis",
        description="thesis-workbench: Gram-matrix EfficientNetV2 models for image emotion.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ThesisError as error:
        print(f"thesis {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
