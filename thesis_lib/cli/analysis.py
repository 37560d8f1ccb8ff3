"""``thesis embed`` and ``thesis predict``: a finished run's network on any images.

    thesis embed results/runs/<run_id> /data/emoset --out emoset.parquet [--map map.png]
    thesis embed results/runs/<run_id> --recorded test --out test.parquet
    thesis predict results/runs/<run_id> photos/ one.jpg list.csv --out predictions.csv --top-k 3

Output files that exist are replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from thesis_lib import files
from thesis_lib.errors import ConfigError, DataError, ThesisError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``thesis embed`` and ``thesis predict``."""
    embed = subparsers.add_parser(
        "embed", help="write a run's embeddings of a dataset; cluster scores",
        description="Write per image the fused embedding, label, prediction and class "
                    "probabilities of a finished run's network (Parquet), and print how well "
                    "the embeddings separate the classes.")
    embed.add_argument("run_dir", help="the run folder (results/runs/<run_id>)")
    embed.add_argument("dataset", nargs="?", default=None,
                       help="dataset folder or manifest (labelled), or a folder of images "
                            "(unlabelled)")
    embed.add_argument("--recorded", default=None, metavar="NAME",
                       help="instead of a dataset: the images of the run's predictions.csv "
                            "under NAME (test: its own test split; or an evaluated dataset)")
    embed.add_argument("--out", required=True, help="the embedding file (*.parquet)")
    embed.add_argument("--neighbours", type=int, default=10,
                       help="k of the ambiguity rule (k nearest neighbours)")
    embed.add_argument("--map", dest="map_figure", default=None,
                       help="also draw the t-SNE map into this file (.png or .pdf)")
    embed.add_argument("--permutations", type=int, default=20,
                       help="label permutations averaged for the ambiguous share's chance "
                            "level")
    embed.add_argument("--seed", type=int, default=0,
                       help="seed of the t-SNE map and of the label permutations")
    _add_common(embed)
    embed.set_defaults(func=embed_command)

    predict = subparsers.add_parser(
        "predict", help="predict images, folders or lists with a finished run",
        description="Predict image files, folders (recursively) or CSV lists of paths, "
                    "labelled or not; broken files are listed with their reason.")
    predict.add_argument("run_dir", help="the run folder (results/runs/<run_id>)")
    predict.add_argument("paths", nargs="+", metavar="PATH",
                         help="image files, folders, CSV lists (path[,label]) or datasets")
    predict.add_argument("--out", required=True, help="the prediction table (CSV)")
    predict.add_argument("--top-k", type=int, default=2, help="classes listed per image")
    predict.add_argument("--calibrated", action="store_true",
                         help="probabilities after the run's temperature scaling (fitted on "
                              "its validation split)")
    _add_common(predict)
    predict.set_defaults(func=predict_command)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unlabelled", action="store_true",
                        help="read every source as plain images (ignore class folders)")
    parser.add_argument("--adapter", default="auto", help="force a dataset layout")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per batch (default: the run's)")
    parser.add_argument("--min-side", type=int, default=None,
                        help="skip smaller images (pixels; default: the run's)")
    parser.add_argument("--no-cache", action="store_true", help="ignore the scan cache")
    parser.add_argument("--force", action="store_true", help="overwrite the output file")


def _output_path(value: str, force: bool, suffixes: tuple[str, ...]) -> Path:
    path = Path(value)
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"{path}: the output file must end in {' or '.join(suffixes)}")
    if path.exists() and not force:
        raise ThesisError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def embed_command(args: argparse.Namespace) -> int:
    from thesis_lib.analysis import embedding

    if (args.dataset is None) == (args.recorded is None):
        raise ConfigError("give either a DATASET or --recorded NAME (e.g. --recorded test)")
    out = _output_path(args.out, args.force, (".parquet",))
    figure = _output_path(args.map_figure, args.force, (".png", ".pdf")) \
        if args.map_figure else None
    if args.recorded is not None:
        table = embedding.compute_run_embeddings(args.run_dir, args.recorded,
                                                 batch_size=args.batch_size, progress=True)
    else:
        table = embedding.compute_embeddings(
            args.run_dir, args.dataset, labelled=False if args.unlabelled else None,
            adapter=args.adapter, batch_size=args.batch_size, min_side=args.min_side,
            cache=not args.no_cache, progress=True)
    embedding.write_embeddings(table, out)
    labelled = int(table["label_index"].notna().sum())
    print(f"{len(table)} images embedded ({labelled} labelled, "
          f"{table.attrs['skipped']} files skipped), "
          f"{embedding.embedding_matrix(table).shape[1]} dimensions: {out}")
    try:
        record = embedding.embedding_record(table, k=args.neighbours, prefix="",
                                            permutations=args.permutations, seed=args.seed)
    except (DataError, ConfigError) as error:
        print(f"no cluster scores: {error}")
    else:
        for key in ("silhouette", "davies_bouldin", "calinski_harabasz"):
            print(f"  {key}: {record[key]:.4f}")
        print(f"  ambiguous_share: {record['ambiguous_share']:.4f} (chance level "
              f"{record['ambiguous_share_chance']:.4f}: labels permuted on the same "
              f"{args.neighbours} neighbours, mean of {args.permutations} permutations)")
    _print_cross_sentiment(table)
    if figure is not None:
        _draw_map(table, figure, args.seed)
    return 0


def _print_cross_sentiment(table) -> None:
    """The top-2 cross-sentiment share of the embedded images with its chance level, where the
    run's classes have sentiments."""
    from thesis_lib.analysis import sentiment

    class_names = table.attrs.get("class_names")
    if not class_names or table.empty:
        return
    try:
        result = sentiment.cross_sentiment_share(table, class_names,
                                                 scheme=table.attrs.get("scheme"))
    except ConfigError:
        return  # a binary scheme, or classes without a sentiment
    print(f"  {result.summary()}")


def _draw_map(table, path: Path, seed: int) -> None:
    import matplotlib.pyplot as plt

    from thesis_lib.analysis import embedding
    from thesis_lib.figures.embedding import plot_embedding_map
    from thesis_lib.figures.save import write_stream

    coordinates = embedding.embedding_map(embedding.embedding_matrix(table), seed=seed)
    fig = plot_embedding_map(coordinates, table["label"], predicted=table["predicted"],
                             class_names=table.attrs.get("class_names"))
    fmt = path.suffix.lower().lstrip(".")
    write_stream(path, lambda stream: fig.savefig(stream, format=fmt, dpi=300))
    plt.close(fig)
    print(f"t-SNE map: {path}")


def predict_command(args: argparse.Namespace) -> int:
    from thesis_lib.analysis import predict, sentiment

    out = _output_path(args.out, args.force, (".csv",))
    run = predict.load_run(args.run_dir)
    table = predict.predict_images(
        run, args.paths, top_k=args.top_k, labelled=False if args.unlabelled else None,
        adapter=args.adapter, batch_size=args.batch_size, min_side=args.min_side,
        cache=not args.no_cache, progress=True, calibrated=args.calibrated)
    files.write_csv(out, table)
    if args.calibrated:
        print(f"probabilities scaled by the run's temperature T = {run.temperature:.4f}")
    done = table[table["status"] == predict.STATUS_OK]
    skipped = table[table["status"] == predict.STATUS_SKIPPED]
    print(f"{len(done)} images predicted, {len(skipped)} files skipped: {out}")
    for reason, count in skipped["reason"].value_counts().sort_index().items():
        print(f"  {reason}: {count}")
    accuracy, n_labelled = predict.accuracy_of(table)
    if n_labelled:
        print(f"accuracy on the {n_labelled} labelled images: {accuracy:.4f}")
    sentiment_map = predict.sentiment_map_of(run)
    if sentiment_map is not None and len(done):
        result = sentiment.cross_sentiment_share(done, run.class_names,
                                                 sentiment_map=sentiment_map)
        if not math.isnan(result.share):
            print(result.summary())
    return 0
