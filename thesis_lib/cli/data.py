"""``thesis data``: scan, split and audit datasets; generate the demo dataset.

    thesis data scan DIR [--out manifest.csv] [--report skipped.csv] [--min-side N]
    thesis data split DIR [--scheme sadness] [--ratios 0.8 0.1 0.1] [--seed 0] [--deduplicate]
        --out split.csv
    thesis data audit DIR [--report duplicates.csv] [--drop --out manifest.csv]
    thesis data demo --out DIR [--classes K] [--per-class N] [--size WxH] [--seed S]

Files that already exist are never overwritten unless ``--force`` is given: a split or a
manifest may be what earlier training runs were made with.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from thesis_lib.errors import ConfigError, ThesisError


def register(subparsers) -> None:
    """Add ``thesis data`` and its subcommands."""
    parser = subparsers.add_parser("data", help="scan, split and audit datasets; demo data",
                                   description="Scan, split and audit datasets; generate the "
                                               "demo dataset.")
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _print_help(parser))

    scan = commands.add_parser("scan", help="check every image; summary and skipped files")
    _add_source_options(scan)
    scan.add_argument("--out", help="write the manifest of usable images (CSV)")
    scan.add_argument("--report", help="write the skipped files and reasons (CSV)")
    _add_force(scan)
    scan.set_defaults(func=run_scan)

    split = commands.add_parser("split", help="label and split a dataset; write the split CSV")
    _add_source_options(split)
    _add_split_options(split)
    split.add_argument("--split-file", help="reuse this split CSV instead of a new split")
    split.add_argument("--deduplicate", "--drop-duplicates", dest="deduplicate",
                       action="store_true",
                       help="drop exact and near-duplicate images before splitting (the copy "
                            "in the dataset's own training split stays, else the original: "
                            "largest, then least compressed, then first by path); the split "
                            "written lists no dropped copy")
    split.add_argument("--label-conflicts", choices=["drop", "keep"], default="drop",
                       help="with --deduplicate: copies of one picture filed under different "
                            "classes: drop them all (default) or keep one")
    split.add_argument("--conflicts", help="with --deduplicate: write the duplicate groups "
                                           "whose copies carry different labels (CSV)")
    split.add_argument("--out", help="write the split (relpath,label,split CSV)")
    split.add_argument("--report", help="write the skipped files and reasons (CSV)")
    split.add_argument("--duplicates", help="with --deduplicate: write the duplicate groups, "
                                            "which file of each stayed (CSV)")
    _add_force(split)
    split.set_defaults(func=run_split)

    audit = commands.add_parser("audit", help="find duplicate images within and across splits")
    _add_source_options(audit)
    _add_split_options(audit, with_scheme=False)
    audit.add_argument("--split-file", help="audit this saved split (default: the dataset's "
                       "own split, else a new split with --seed/--ratios)")
    audit.add_argument("--exact-only", action="store_true",
                       help="compare file bytes only (fast; no re-encoded or resized copies)")
    audit.add_argument("--max-distance", type=int, default=None,
                       help="most differing hash bits for near duplicates (default: 15%%)")
    audit.add_argument("--report", help="write every duplicate group (CSV)")
    audit.add_argument("--drop", action="store_true",
                       help="write a manifest without the redundant copies (needs --out)")
    audit.add_argument("--out", help="the manifest written by --drop (path,label[,split] CSV)")
    _add_force(audit)
    audit.set_defaults(func=run_audit)

    demo = commands.add_parser("demo", help="generate the procedural demo dataset")
    demo.add_argument("--out", required=True, help="dataset folder to create")
    demo.add_argument("--classes", type=int, default=2, help="number of classes (2..8)")
    demo.add_argument("--per-class", type=int, default=None, help="images per class")
    demo.add_argument("--size", default=None, help="image size WxH, e.g. 500x375")
    demo.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    demo.set_defaults(func=run_demo)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="dataset folder (class folders or a known layout) or CSV")
    parser.add_argument("--adapter", default="auto",
                        help="dataset layout: auto, csv, emoset, emotion6, unbiasedemo, fi, "
                             "webemo, folders")
    parser.add_argument("--min-side", type=int, default=32,
                        help="skip images whose shorter side is smaller (pixels)")
    parser.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--no-cache", action="store_true", help="ignore the scan cache")


def _add_split_options(parser: argparse.ArgumentParser, with_scheme: bool = True) -> None:
    if with_scheme:
        parser.add_argument("--scheme", default="sadness",
                            help="sadness, binary:<emotion>, mikels8, thesis7 or folders")
    parser.add_argument("--ratios", type=float, nargs=3, default=(0.8, 0.1, 0.1),
                        metavar=("TRAIN", "VAL", "TEST"), help="split fractions")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")


def _add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def _output_path(value: str | None, force: bool) -> Path | None:
    """The output file, refusing to replace an existing one without --force."""
    if value is None:
        return None
    path = Path(value)
    if path.exists() and not force:
        raise ThesisError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write_csv(table, path: Path | None, what: str) -> None:
    """Write ``table`` to ``path`` (when given) and say so."""
    if path is not None:
        table.to_csv(path, index=False)
        print(f"{what}: {path}")


def _read(args: argparse.Namespace):
    from thesis_lib.data.adapters import read_dataset

    return read_dataset(args.source, adapter=args.adapter, min_side=args.min_side,
                        workers=args.workers, cache=not args.no_cache, progress=None)


def run_scan(args: argparse.Namespace) -> int:
    out = _output_path(args.out, args.force)
    report = _output_path(args.report, args.force)
    scan, adapter = _read(args)
    print(f"layout: {adapter}")
    print(scan.summary())
    _write_csv(scan.manifest, out, "manifest")
    _write_csv(scan.skipped, report, "skipped files")
    return 0


def run_split(args: argparse.Namespace) -> int:
    from thesis_lib.data.prepare import prepare_dataset

    if args.duplicates and not args.deduplicate:
        raise ConfigError("--duplicates lists what --deduplicate drops: give both")
    if args.conflicts and not args.deduplicate:
        raise ConfigError("--conflicts lists what --deduplicate finds: give both")
    if args.deduplicate and args.split_file:
        raise ConfigError("--deduplicate and --split-file: a split file is used as it is; "
                          "deduplicate when making the split instead")
    out = _output_path(args.out, args.force)
    report = _output_path(args.report, args.force)
    duplicates = _output_path(args.duplicates, args.force)
    conflicts = _output_path(args.conflicts, args.force)
    prepared = prepare_dataset(
        args.source, scheme=args.scheme, ratios=args.ratios, seed=args.seed,
        split_file=args.split_file, adapter=args.adapter, min_side=args.min_side,
        deduplicate=args.deduplicate, workers=args.workers, cache=not args.no_cache,
        label_conflicts=args.label_conflicts,
    )
    print(f"layout: {prepared.adapter}, scheme: {prepared.scheme.name}")
    if prepared.duplicates is not None:
        groups = prepared.duplicates["group"].nunique()
        counts = prepared.duplicate_counts()
        print(f"{groups} duplicate groups: {counts['copies_dropped']} copies dropped before "
              "splitting")
        action = "all their copies dropped" if args.label_conflicts == "drop" else "one kept"
        print(f"{counts['conflict_groups']} groups with copies under different labels: "
              f"{counts['conflict_images_dropped']} images dropped ({action})")
    print(prepared.counts().to_string())
    if len(prepared.skipped):
        print(f"{len(prepared.skipped)} files or images left out:")
        print(prepared.skipped["reason"].value_counts().sort_index().to_string())
    if out is not None:
        prepared.save_split(out)
        print(f"split: {out}")
    _write_csv(prepared.skipped, report, "skipped files")
    _write_csv(prepared.duplicates, duplicates, "duplicate groups")
    _write_csv(prepared.conflicts, conflicts, "label conflicts")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from thesis_lib.data import audit
    from thesis_lib.data.prepare import choose_splits

    if args.drop and not args.out:
        raise ConfigError("--drop writes a new manifest: give its file with --out")
    out = _output_path(args.out, args.force)
    report = _output_path(args.report, args.force)
    scan, _ = _read(args)
    manifest = scan.manifest.copy()
    manifest["split"] = choose_splits(manifest, args.ratios, args.seed, args.split_file or None)
    duplicates = audit.find_duplicates(manifest, near=not args.exact_only,
                                       max_distance=args.max_distance, workers=args.workers,
                                       progress=len(manifest) >= 500)
    leaking = audit.leakage_report(duplicates)
    groups = duplicates["group"].nunique()
    exact = duplicates.groupby("group")["kind"].apply(lambda kinds: (kinds == "exact").all())
    print(f"{len(manifest)} images audited: {groups} duplicate groups "
          f"({int(exact.sum())} byte-identical, {groups - int(exact.sum())} with near copies), "
          f"{len(duplicates) - groups} redundant files")
    print(f"{leaking['group'].nunique() if len(leaking) else 0} groups span more than one split")
    _write_csv(duplicates, report, "duplicates")
    if args.drop:
        kept = audit.drop_duplicates(manifest, duplicates)
        _write_manifest(kept, out, keep_split="split" in scan.manifest.columns)
        print(f"manifest without duplicates ({len(kept)} images): {out}")
    return 0


def _write_manifest(manifest, out: Path, keep_split: bool) -> None:
    """A path,label[,split] CSV usable as a dataset source: paths relative to the CSV when
    all images lie below its folder, absolute otherwise."""
    from thesis_lib.data.discovery import is_inside

    folder = os.path.realpath(out.resolve().parent)
    table = manifest[["path", "label"] + (["split"] if keep_split else [])].copy()
    if all(is_inside(os.path.realpath(path), folder) for path in table["path"]):
        table["path"] = [Path(os.path.relpath(path, folder)).as_posix()
                         for path in table["path"]]
    table.sort_values("path").to_csv(out, index=False)


def _parse_size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must look like 500x375 (width x height), got '{value}'") \
            from None
    return width, height


def run_demo(args: argparse.Namespace) -> int:
    from thesis_lib.data import demo

    options = {"num_classes": args.classes, "seed": args.seed}
    if args.per_class is not None:
        options["images_per_class"] = args.per_class
    if args.size is not None:
        options["size"] = _parse_size(args.size)
    out = demo.make_demo_dataset(args.out, **options)
    counts = {folder.name: sum(1 for _ in folder.glob("*.jpg"))
              for folder in sorted(Path(out).iterdir()) if folder.is_dir()}
    print(f"demo dataset: {out}")
    for name, count in counts.items():
        print(f"  {name}: {count}")
    return 0
