"""``thesis models``: what each network is (parameters, taps, FLOPs) and where it can be tapped.

    thesis models                                   baseline, gram, gramnet, pairwise on B2
    thesis models --backbone B0 --modules 2 3 4     other backbone, several module counts
    thesis models --variants pairwise --modules 3   the pairwise network with its pairs
    thesis models taps --backbone S                 default tap table and every tappable layer

``--modules`` counts Gram modules: taps for gram and gramnet, pairs of consecutive default
taps for pairwise (whose default table goes up to 5).

Models are built with random weights, so nothing is downloaded.
"""

from __future__ import annotations

import argparse

from thesis_lib.choices import get_backbone


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand to the ``thesis`` command."""
    parser = subparsers.add_parser(
        "models",
        help="describe the model variants: parameters, taps with shapes, FLOPs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "what",
        nargs="?",
        choices=("summary", "taps"),
        default="summary",
        help="summary: one row per variant (default); taps: the backbone's tap points",
    )
    parser.add_argument(
        "--backbone",
        default="EfficientNetV2B2",
        help="EfficientNetV2B0..B3 or EfficientNetV2S, or short: B0..B3, S (default B2)",
    )
    parser.add_argument("--image-size", type=int, default=256, help="input side in pixels")
    parser.add_argument(
        "--modules",
        type=int,
        nargs="+",
        default=[4],
        help="Gram module counts to show for gram, gramnet and pairwise (default 4)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["baseline", "gram", "gramnet", "pairwise"],
        help="which variants to show (default all)",
    )
    parser.add_argument("--num-classes", type=int, default=2, help="output classes (default 2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the requested table; returns the exit code."""
    import pandas as pd

    from thesis_lib.models.variants import check_variant

    spec = get_backbone(args.backbone)  # an unknown name fails here, before any model is built
    for variant in args.variants:
        check_variant(variant)
    with pd.option_context("display.width", 200, "display.max_colwidth", 200):
        if args.what == "taps":
            print(_taps_report(spec.name, args.image_size))
        else:
            print(_summary_report(args, spec.name))
    return 0


def _summary_report(args: argparse.Namespace, backbone: str) -> str:
    from thesis_lib.models.summary import summarize_variants

    table = summarize_variants(
        backbone=backbone,
        image_size=args.image_size,
        modules=args.modules,
        variants=args.variants,
        num_classes=args.num_classes,
    )
    shown = table.drop(columns=["backbone_params", "pairs"]).assign(
        params=table["params"].map("{:,}".format),
        trainable=table["trainable"].map("{:,}".format),
        flops=(table["flops"] / 1e9).map("{:.3f}".format),
    )
    shown = shown.rename(columns={"flops": "GFLOPs"})
    header = (
        f"{backbone}, {args.image_size} x {args.image_size} px, {args.num_classes} classes. "
        "GFLOPs: forward, per image, 2 x multiply-accumulates."
    )
    lines = [header, shown.to_string(index=False)]
    for model, pairs in zip(table["model"], table["pairs"], strict=True):
        if pairs:
            lines.append(f"pairs of {model}: {pairs}")
    for variant, count in table.attrs.get("skipped", []):
        lines.append(
            f"{variant} with {count} modules: beyond its default table, not shown (name the "
            "layers with taps=[...] or pairs=[...] in build_model)"
        )
    return "\n".join(lines)


def _taps_report(backbone: str, image_size: int) -> str:
    from thesis_lib.models.backbones import load_backbone, tap_candidates
    from thesis_lib.models.summary import tap_table

    table = tap_table(backbone, image_size)
    candidates = tap_candidates(load_backbone(backbone, image_size=image_size, weights=None))
    return (
        f"Default Gram taps of {backbone} at {image_size} x {image_size} px (stage ends):\n"
        f"{table.to_string(index=False)}\n\n"
        f"Every layer that taps=[...] accepts ({len(candidates)}):\n" + ", ".join(candidates)
    )
