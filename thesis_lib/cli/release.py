"""``thesis release`` and ``thesis verify``: a study as a citable, verifiable folder and zip.

    thesis release results --out release-comparison --study comparison --licence CC-BY-4.0
    thesis verify release-comparison --data-dir /data/webemo_sad
"""

from __future__ import annotations

import argparse
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    release = subparsers.add_parser(
        "release", help="a study's models, splits (as hashes), notebooks, tables and figures "
                        "as one folder and zip")
    release.add_argument("results_dir", help="the results folder (holding runs/)")
    release.add_argument("--out", required=True, help="the release folder to create (and .zip)")
    release.add_argument("--study", default=None, help="release this study (all runs finished)")
    release.add_argument("--setting", dest="settings", nargs="+", default=[],
                         metavar="SETTING",
                         help="keep these settings (study label, setting id or network name)")
    release.add_argument("--licence", "--license", dest="licence", required=True,
                         help="the release's licence, an SPDX id such as CC-BY-4.0")
    release.add_argument("--author", dest="authors", action="append", default=[],
                         help="'Family, Given' (repeat for several); default git's user.name")
    release.add_argument("--title", default=None, help="the release's title")
    release.add_argument("--version", default="1.0.0", help="the release's version")
    release.add_argument("--data-dir", default=None,
                         help="the dataset, when it is no longer where the runs recorded it")
    release.set_defaults(func=release_command)

    verify = subparsers.add_parser(
        "verify", help="check a release: manifest, dataset, models, loading, tables")
    verify.add_argument("release", help="the release folder")
    verify.add_argument("--data-dir", required=True, help="your copy of the dataset")
    verify.set_defaults(func=verify_command)


def release_command(args: argparse.Namespace) -> int:
    from thesis_lib.release import ReleaseOptions, make_release

    started = time.perf_counter()
    options = ReleaseOptions(licence=args.licence, authors=args.authors, title=args.title,
                             version=args.version, data_dir=args.data_dir)
    record = make_release(args.results_dir, args.out, options, study=args.study,
                          settings=args.settings)
    print(f"{len(record['runs'])} run(s) released: {args.out} and {record['archive']} "
          f"({time.perf_counter() - started:.0f} s)")
    print(record["left_out"])
    return 0


def verify_command(args: argparse.Namespace) -> int:
    from thesis_lib.release import verify_release

    started = time.perf_counter()
    checks = verify_release(args.release, args.data_dir)
    for check in checks:
        print(check.line())
    failed = sum(not check.ok for check in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed "
          f"({time.perf_counter() - started:.0f} s)")
    return 2 if failed else 0
