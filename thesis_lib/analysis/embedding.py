"""The embeddings a trained network makes of images, and how well they separate the classes.

The embedding of an image is the fused feature vector the classifier reads
(``thesis_lib.models.embedding_output``). Tables of embeddings are written as Parquet: one typed
file per set of images with the run and classes in its ``attrs`` (``.npz`` + CSV would be two
files that can drift apart, and CSV triples the size of float32 columns).

t-SNE (scikit-learn, seeded) after a seeded PCA to 50 dimensions, as its authors recommend; a
map shows neighbourhoods, not distances, so cluster scores are computed on the embeddings.

The ambiguous share depends on the classes' number and sizes as much as on the embedding (on
noise: 99 % for eight balanced classes, 38 % for two), so it is reported beside its chance
level: the share with the labels permuted on the same k-nearest-neighbour graph. (Its
expectation is sum_c n_c / N * P(H_c < k / 2), H_c hypergeometric: n_c - 1 of N - 1, k drawn.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thesis_lib import files
from thesis_lib.analysis.predict import TrainedRun, as_run, run_images, run_network
from thesis_lib.analysis.results import load_predictions
from thesis_lib.data import adapters
from thesis_lib.errors import ConfigError, DataError

EMBEDDING_PREFIX = "emb_"
DEFAULT_NEIGHBOURS = 10
DEFAULT_PERMUTATIONS = 20
PCA_DIMENSIONS = 50
RECORD_PREFIX = "embedding_"
# The cluster scores as ``collect_runs`` names them -> their titles in tables.
CLUSTER_SCORE_LABELS = {
    "embedding_silhouette": "silhouette",
    "embedding_davies_bouldin": "Davies-Bouldin",
    "embedding_calinski_harabasz": "Calinski-Harabasz",
}


def embedding_network(model: Any) -> Any:
    """A Keras model with two outputs: the fused embedding and the class probabilities."""
    import keras

    from thesis_lib.models.embeddings import embedding_output

    return keras.Model(model.inputs, [embedding_output(model), model.outputs[0]])


def compute_embeddings(
    run: TrainedRun | str | os.PathLike,
    source: str | os.PathLike,
    *,
    labelled: bool | None = None,
    adapter: str = "auto",
    batch_size: int | None = None,
    min_side: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Per usable image of ``source`` (a dataset or a plain folder of images): the embedding,
    the label, the prediction, the probs. Options as for ``predict.predict_images``.

    Returns:
        A table sorted by path: path, raw_label, label, label_index (nullable), predicted,
        predicted_index, confidence, prob_<class>..., emb_0000...; ``attrs`` hold run_dir,
        class_names, scheme, embedding_layer and skipped (the number of files left out).
    """
    run = as_run(run)
    network = embedding_network(run.model)  # fails before the scan for a foreign model
    images = run_images(run, [source], labelled=labelled, adapter=adapter, min_side=min_side,
                        cache=cache, progress=progress)
    return _embed(run, network, images.frame, len(images.skipped), batch_size, progress)


def compute_run_embeddings(
    run: TrainedRun | str | os.PathLike,
    dataset: str = "test",
    *,
    batch_size: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """:func:`compute_embeddings` of the images and labels of the run's ``predictions.csv``
    under ``dataset`` ("test": its own test split, or a name given to ``thesis evaluate``),
    the images its metrics were computed on; a file moved or changed since is ``skipped``."""
    run = as_run(run)
    network = embedding_network(run.model)
    recorded = load_predictions(run.run_dir)
    rows = recorded[recorded["dataset"] == dataset].drop_duplicates("path")
    if rows.empty:
        names = ", ".join(sorted(recorded["dataset"].astype(str).unique())) or "none"
        raise DataError(f"{run.run_dir / 'predictions.csv'}: no predictions of dataset "
                        f"{dataset!r} (recorded: {names})")
    scan = adapters.read_images(rows["path"].tolist(), min_side=None, cache=False,
                                progress=progress)
    labels = rows.set_index("path")["label_index"].astype(int)
    frame = scan.manifest[["path", "decoder"]].copy()
    frame["raw_label"] = None
    frame["label_index"] = pd.array(frame["path"].map(labels).tolist(), dtype="Int64")
    frame["label"] = [run.class_names[index] for index in frame["label_index"]]
    return _embed(run, network, frame, len(scan.skipped), batch_size, progress)


def _embed(run: TrainedRun, network: Any, frame: pd.DataFrame, skipped: int,
           batch_size: int | None, progress: bool | None) -> pd.DataFrame:
    """The embedding table of the images of ``frame`` (path, raw_label, label, label_index,
    decoder), sorted by path."""
    from thesis_lib.models.embeddings import EMBEDDING_LAYER

    frame = frame.sort_values("path", kind="stable").reset_index(drop=True)
    embeddings, probabilities = run_network(run, frame, network=network,
                                            batch_size=batch_size, progress=progress)
    table = frame[["path", "raw_label", "label", "label_index"]].copy()
    table["predicted_index"] = probabilities.argmax(axis=1)
    table["predicted"] = [run.class_names[index] for index in table["predicted_index"]]
    table["confidence"] = probabilities.max(axis=1)
    columns = {f"prob_{name}": probabilities[:, index]
               for index, name in enumerate(run.class_names)}
    width = max(4, len(str(embeddings.shape[1] - 1)))
    columns.update({f"{EMBEDDING_PREFIX}{index:0{width}d}": embeddings[:, index]
                    for index in range(embeddings.shape[1])})
    table = pd.concat([table, pd.DataFrame(columns)], axis=1)
    table.attrs = {"run_dir": str(run.run_dir), "class_names": list(run.class_names),
                   "scheme": run.config.get("scheme"), "embedding_layer": EMBEDDING_LAYER,
                   "skipped": skipped}
    return table


def write_embeddings(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a ``compute_embeddings`` table as Parquet atomically (``pandas.read_parquet``
    reads it back, ``attrs`` included)."""
    path = Path(path)
    if path.suffix.lower() != ".parquet":
        raise ConfigError(f"{path}: embeddings are written as Parquet; name the file *.parquet")
    return files.atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))


def embedding_matrix(table: pd.DataFrame) -> np.ndarray:
    """The (N, D) embeddings of a table, from its ``emb_`` columns in order."""
    columns = [column for column in table.columns if str(column).startswith(EMBEDDING_PREFIX)]
    if not columns:
        raise DataError(f"the table has no embedding columns ({EMBEDDING_PREFIX}0000, ...)")
    return table[columns].to_numpy(dtype=np.float64)


def _labelled(embeddings, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(known, X, codes)``: which rows have a label, those rows, their integer labels."""
    matrix = np.asarray(embeddings, dtype=np.float64)
    values = pd.Series(list(labels) if not isinstance(labels, pd.Series) else labels)
    if matrix.ndim != 2 or len(values) != len(matrix):
        raise DataError(f"{len(values)} labels for embeddings of shape {matrix.shape}")
    known = values.notna().to_numpy()
    codes = pd.factorize(values[known], sort=True)[0]
    return known, matrix[known], codes


def cluster_scores(embeddings: np.ndarray, labels: Sequence[Any]) -> dict[str, float]:
    """How well the labelled samples' classes form clusters in the embedding (scikit-learn,
    Euclidean): ``silhouette`` (in [-1, 1]) and ``calinski_harabasz`` (> 0), higher is
    better; ``davies_bouldin`` (>= 0), lower is better."""
    from sklearn import metrics

    _, matrix, codes = _labelled(embeddings, labels)
    n_classes = len(np.unique(codes))
    if n_classes < 2 or len(codes) <= n_classes:
        raise DataError(f"cluster scores need at least two classes and more labelled samples "
                        f"than classes; got {len(codes)} sample(s) of {n_classes} class(es)")
    return {
        "silhouette": float(metrics.silhouette_score(matrix, codes)),
        "davies_bouldin": float(metrics.davies_bouldin_score(matrix, codes)),
        "calinski_harabasz": float(metrics.calinski_harabasz_score(matrix, codes)),
    }


def _neighbour_graph(embeddings: np.ndarray, labels: Sequence[Any], k: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(known, codes, neighbours)``: which samples are labelled, their integer labels, and
    per labelled sample its ``k`` nearest labelled neighbours, itself excluded by index."""
    from sklearn.neighbors import NearestNeighbors

    known, matrix, codes = _labelled(embeddings, labels)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k < len(codes):
        raise ConfigError(f"k must be between 1 and the number of labelled samples minus one "
                          f"({len(codes) - 1}), got {k!r}")
    # Without a query, kneighbors leaves each indexed point out of its own neighbours.
    neighbours = NearestNeighbors(n_neighbors=k).fit(matrix).kneighbors(return_distance=False)
    return known, codes, neighbours


def _disagreement(codes: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Per labelled sample, the share of its neighbours with another label."""
    return (codes[neighbours] != codes[:, None]).mean(axis=1)


def neighbour_disagreement(embeddings: np.ndarray, labels: Sequence[Any], *,
                           k: int = DEFAULT_NEIGHBOURS) -> np.ndarray:
    """Per labelled sample, the share of its ``k`` nearest labelled neighbours (Euclidean)
    whose class differs from its own; NaN for unlabelled samples. The sample itself is left
    out by index, not by distance: an exact duplicate of another class is a neighbour."""
    known, codes, neighbours = _neighbour_graph(embeddings, labels, k)
    shares = np.full(len(known), np.nan)
    shares[known] = _disagreement(codes, neighbours)
    return shares


def chance_ambiguous_share(embeddings: np.ndarray, labels: Sequence[Any], *,
                           k: int = DEFAULT_NEIGHBOURS,
                           permutations: int = DEFAULT_PERMUTATIONS,
                           seed: int = 0) -> float:
    """The ambiguous share expected by chance: the labels permuted among the labelled
    samples on the same neighbour graph, averaged over ``permutations`` seeded permutations
    (see the module's notes). Unlabelled samples (None / NaN) are left out."""
    _, codes, neighbours = _neighbour_graph(embeddings, labels, k)
    return _chance_share(codes, neighbours, permutations, seed)


def _chance_share(codes: np.ndarray, neighbours: np.ndarray, permutations: int,
                  seed: int) -> float:
    """The mean ambiguous share over seeded permutations of the labels on one graph."""
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer) or \
            permutations < 1:
        raise ConfigError(f"permutations must be a positive whole number, got {permutations!r}")
    rng = np.random.default_rng(seed)
    return float(np.mean([(_disagreement(rng.permutation(codes), neighbours) > 0.5).mean()
                          for _ in range(permutations)]))


def ambiguous_samples(embeddings: np.ndarray, labels: Sequence[Any], *,
                      k: int = DEFAULT_NEIGHBOURS) -> np.ndarray:
    """Whether each sample is ambiguous: more than half of its ``k`` nearest neighbours are
    of another class than its own (exactly half is not ambiguous). False for unlabelled
    samples."""
    shares = neighbour_disagreement(embeddings, labels, k=k)
    return np.nan_to_num(shares, nan=0.0) > 0.5


def embedding_map(embeddings: np.ndarray, *, seed: int = 0, perplexity: float = 30.0,
                  pca_dimensions: int | None = PCA_DIMENSIONS) -> np.ndarray:
    """(N, 2) coordinates of a seeded 2-D t-SNE map of the embeddings (scikit-learn).

    Args:
        seed: Seed of the PCA and of t-SNE.
        perplexity: Lowered to (N - 1) / 3 for small sets, which t-SNE needs.
        pca_dimensions: Reduce to this many dimensions by PCA first when D is larger
            (None: never).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    matrix = np.asarray(embeddings, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) < 4:
        raise DataError(f"a t-SNE map needs an (N, D) array with N >= 4, got {matrix.shape}")
    if pca_dimensions is not None and matrix.shape[1] > pca_dimensions and \
            len(matrix) > pca_dimensions:
        matrix = PCA(n_components=pca_dimensions, random_state=seed).fit_transform(matrix)
    perplexity = min(float(perplexity), (len(matrix) - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                random_state=seed)
    return tsne.fit_transform(matrix)


def _error_rate(wrong: np.ndarray, chosen: np.ndarray) -> float:
    return float(wrong[chosen].mean()) if chosen.any() else float("nan")


def embedding_record(table: pd.DataFrame, *, k: int = DEFAULT_NEIGHBOURS,
                     prefix: str = RECORD_PREFIX, permutations: int = DEFAULT_PERMUTATIONS,
                     seed: int = 0) -> dict[str, float | int]:
    """The cluster scores of one run's embeddings as a flat dict for its record (keys with
    ``prefix``): :func:`cluster_scores`, the ambiguous share of the labelled images beside its
    :func:`chance_ambiguous_share`, and the error rates of the ambiguous and the other
    labelled images (NaN where a group is empty).

    Args:
        table: A ``compute_embeddings`` table (or any with ``emb_`` columns, ``label_index``
            and ``predicted_index``).
    """
    embeddings = embedding_matrix(table)
    labels = table["label_index"].astype("Int64")
    scores = cluster_scores(embeddings, labels)
    # One neighbour graph for the share and its chance level (the search is the costly part).
    known, codes, neighbours = _neighbour_graph(embeddings, labels, k)
    ambiguous = np.zeros(len(known), dtype=bool)
    ambiguous[known] = _disagreement(codes, neighbours) > 0.5
    wrong = (table["predicted_index"].to_numpy() !=
             labels.fillna(-1).to_numpy(dtype=int)) & known
    record: dict[str, float | int] = {
        "n_images": len(table),
        "n_labelled": int(known.sum()),
        "dimensions": int(embeddings.shape[1]),
        **scores,
        "ambiguous_share": float(ambiguous[known].mean()),
        "ambiguous_share_chance": _chance_share(codes, neighbours, permutations, seed),
        "chance_permutations": int(permutations),
        "chance_seed": int(seed),
        "neighbours": int(k),
        "error_rate_ambiguous": _error_rate(wrong, ambiguous & known),
        "error_rate_clear": _error_rate(wrong, ~ambiguous & known),
    }
    return {f"{prefix}{key}": value for key, value in record.items()}


def record_embedding_scores(run: TrainedRun | str | os.PathLike, *, k: int = DEFAULT_NEIGHBOURS,
                            dataset: str = "test") -> dict[str, float | int]:
    """The cluster scores of a finished run's test embeddings, kept in its ``metrics.json``
    under ``embedding`` (``collect_runs`` reads them as ``embedding_silhouette``...). Scores of
    the same ``k`` already there are read, unless written before the chance level was."""
    run = as_run(run)
    path = run.run_dir / "metrics.json"
    metrics = files.read_json(path)
    section = metrics if dataset == "test" else metrics.get("datasets", {}).get(dataset, {})
    stored = section.get("embedding")
    if isinstance(stored, dict) and stored.get("neighbours") == k and \
            "ambiguous_share_chance" in stored:
        return stored
    record = embedding_record(compute_run_embeddings(run, dataset, progress=False), k=k,
                              prefix="")
    section["embedding"] = record
    files.write_json(path, metrics)
    return record
