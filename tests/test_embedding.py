"""Embeddings of a trained network, cluster scores, ambiguous samples, the t-SNE map."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats
from sklearn import metrics
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from thesis_lib.analysis import embedding
from thesis_lib.analysis.predict import load_run
from thesis_lib.cli import main as thesis
from thesis_lib.errors import ConfigError, DataError
from thesis_lib.figures.embedding import plot_embedding_map
from thesis_lib.figures.save import save_figure


@pytest.fixture(scope="session")
def tiny_run(finished_tiny_run):
    """The shared finished smoke run (Tiny backbone, one Gram module, 32 px), loaded."""
    return load_run(finished_tiny_run)


@pytest.fixture(autouse=True)
def _private_scan_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def reference_outputs(run, paths):
    """The dropout layer's input and the probabilities, from Keras directly on images decoded
    by PIL and resized as in training."""
    import keras
    import tensorflow as tf

    size = run.config["image_size"]
    batch = np.stack([
        np.clip(np.round(tf.image.resize(np.asarray(Image.open(path).convert("RGB")),
                                         [size, size]).numpy()), 0, 255).astype(np.float32)
        for path in paths])
    features = keras.Model(run.model.inputs, run.model.get_layer("dropout").input)
    return features.predict(batch, verbose=0), run.model.predict(batch, verbose=0)


# --- embeddings of a trained run -------------------------------------------------------------


def test_embeddings_are_the_dropout_input_and_round_trip_through_parquet(tiny_run, tiny_dataset,
                                                                         tmp_path):
    table = embedding.compute_embeddings(tiny_run, tiny_dataset, batch_size=3)
    assert len(table) == 20 and table["path"].is_monotonic_increasing
    assert table["label"].value_counts().to_dict() == {"not_sadness": 10, "sadness": 10}
    assert set(table["raw_label"]) == {"other", "sadness"}
    features, probabilities = reference_outputs(tiny_run, table["path"])
    np.testing.assert_allclose(embedding.embedding_matrix(table), features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(table[["prob_not_sadness", "prob_sadness"]], probabilities,
                               atol=1e-5)
    assert (table["predicted_index"] == probabilities.argmax(axis=1)).all()
    path = embedding.write_embeddings(table, tmp_path / "embeddings.parquet")
    back = pd.read_parquet(path)  # plain pandas reads it
    assert back.columns.tolist() == table.columns.tolist()
    assert back["emb_0000"].dtype == np.float32
    assert back.attrs["class_names"] == ["not_sadness", "sadness"]
    assert back.attrs["embedding_layer"] == "dropout"
    np.testing.assert_array_equal(embedding.embedding_matrix(back),
                                  embedding.embedding_matrix(table))
    with pytest.raises(ConfigError, match=r"name the file \*\.parquet"):
        embedding.write_embeddings(table, tmp_path / "embeddings.csv")


def test_plain_folder_is_embedded_without_labels(tiny_run, tiny_dataset, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("sadness_0001.jpg", "sadness_0002.jpg"):
        shutil.copy(tiny_dataset / "sadness" / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"\x00" * 10)
    table = embedding.compute_embeddings(tiny_run, folder)
    assert len(table) == 2 and table["label"].isna().all() and table.attrs["skipped"] == 1
    with pytest.raises(DataError, match="cluster scores need at least two classes"):
        embedding.embedding_record(table)


def test_thesis_embed_writes_the_file_prints_scores_and_draws_the_map(tiny_run, tiny_dataset,
                                                                      tmp_path, capsys):
    out, figure = tmp_path / "e.parquet", tmp_path / "map.png"
    assert thesis(["embed", str(tiny_run.run_dir), str(tiny_dataset), "--out", str(out),
                   "--neighbours", "5", "--map", str(figure)]) == 0
    printed = capsys.readouterr().out
    table = pd.read_parquet(out)
    record = embedding.embedding_record(table, k=5, prefix="")
    assert f"silhouette: {record['silhouette']:.4f}" in printed
    assert (f"ambiguous_share: {record['ambiguous_share']:.4f} (chance level "
            f"{record['ambiguous_share_chance']:.4f}: labels permuted on the same 5 "
            "neighbours, mean of 20 permutations)") in printed
    assert "20 images embedded (20 labelled, 0 files skipped)" in printed
    assert figure.stat().st_size > 10_000 and figure.read_bytes()[:4] == b"\x89PNG"


def test_run_embeddings_are_of_the_images_and_labels_of_the_runs_record(tiny_run, tmp_path,
                                                                         capsys):
    recorded = pd.read_csv(tiny_run.run_dir / "predictions.csv")
    test = recorded[recorded["dataset"] == "test"].sort_values("path")
    table = embedding.compute_run_embeddings(tiny_run, "test")
    assert table["path"].tolist() == test["path"].tolist()
    assert table["label_index"].tolist() == test["label_index"].tolist()
    # The probabilities recorded by training, computed again through the embedding network.
    np.testing.assert_allclose(table[["prob_not_sadness", "prob_sadness"]],
                               test[["prob_not_sadness", "prob_sadness"]], atol=1e-5)
    with pytest.raises(DataError, match=r"no predictions of dataset 'emoset' \(recorded: test\)"):
        embedding.compute_run_embeddings(tiny_run, "emoset")
    out = tmp_path / "test.parquet"
    assert thesis(["embed", str(tiny_run.run_dir), "--recorded", "test", "--out", str(out),
                   "--neighbours", "2"]) == 0
    assert len(pd.read_parquet(out)) == len(test)
    assert thesis(["embed", str(tiny_run.run_dir), "--out", str(out), "--force"]) == 2
    assert "give either a DATASET or --recorded NAME" in capsys.readouterr().err


def test_a_record_without_the_chance_level_is_computed_again_once(tiny_run, tmp_path,
                                                                    monkeypatch):
    import json

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, run_dir)
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["embedding"] = {"ambiguous_share": 0.5, "neighbours": 2}  # an older record
    metrics_path.write_text(json.dumps(metrics))
    record = embedding.record_embedding_scores(run_dir, k=2)
    expected = embedding.embedding_record(embedding.compute_run_embeddings(run_dir), k=2,
                                          prefix="")
    assert record == pytest.approx(expected, nan_ok=True)
    assert json.loads(metrics_path.read_text())["embedding"] == pytest.approx(expected,
                                                                              nan_ok=True)

    def no_computing(*args, **kwargs):
        raise AssertionError("the stored record should have been read")

    monkeypatch.setattr(embedding, "compute_run_embeddings", no_computing)
    assert embedding.record_embedding_scores(run_dir, k=2) == pytest.approx(expected,
                                                                            nan_ok=True)


# --- cluster scores and ambiguous samples ----------------------------------------------------


def test_cluster_scores_are_scikit_learns_on_the_labelled_samples():
    points, classes = make_blobs(n_samples=90, centers=3, n_features=6, random_state=0)
    labels = pd.Series(np.array(["a", "b", "c"], dtype=object)[classes])
    labels[[0, 5, 7]] = None  # unlabelled samples are left out
    kept = labels.notna().to_numpy()
    scores = embedding.cluster_scores(points, labels)
    assert scores == pytest.approx({
        "silhouette": metrics.silhouette_score(points[kept], classes[kept]),
        "davies_bouldin": metrics.davies_bouldin_score(points[kept], classes[kept]),
        "calinski_harabasz": metrics.calinski_harabasz_score(points[kept], classes[kept]),
    })
    with pytest.raises(DataError, match="at least two classes"):
        embedding.cluster_scores(points[:3], ["a", "a", "a"])


def test_the_cluster_score_titles_name_exactly_the_scores_a_record_holds():
    points, classes = make_blobs(n_samples=30, centers=2, n_features=3, random_state=0)
    scores = embedding.cluster_scores(points, pd.Series(classes))
    record_columns = {embedding.RECORD_PREFIX + name for name in scores}
    assert set(embedding.CLUSTER_SCORE_LABELS) == record_columns


def test_silhouette_of_two_pairs_by_hand():
    # a: x = 0, 1; b: x = 10, 12. Point 0: a = 1, b = (10 + 12) / 2 = 11, s = 1 - 1/11.
    points = np.array([[0.0], [1.0], [10.0], [12.0]])
    a_in = np.array([1, 1, 2, 2])
    b_out = np.array([11, 10, 9.5, 11.5])
    expected = np.mean(1 - a_in / b_out)
    assert embedding.cluster_scores(points, ["a", "a", "b", "b"])["silhouette"] == \
        pytest.approx(expected)


def hand_made_embedding():
    """Two clusters on a line; a sample of class A planted in cluster B and one at the border.

    A at 0..5 (6 samples), B at 100..105 (6 samples); sample 12 is class A at 102.5 (inside B);
    sample 13 is class B at 8: with k = 4 its nearest are A at 5, 4, 3, 2 (4 of 4 other).
    """
    positions = [0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105, 102.5, 8]
    labels = ["A"] * 6 + ["B"] * 6 + ["A", "B"]
    return np.array(positions, dtype=float)[:, None], labels


def test_ambiguous_samples_of_a_hand_made_embedding():
    points, labels = hand_made_embedding()
    ambiguous = embedding.ambiguous_samples(points, labels, k=4)
    assert np.flatnonzero(ambiguous).tolist() == [12, 13]
    shares = embedding.neighbour_disagreement(points, labels, k=4)
    assert shares[12] == 1.0 and shares[13] == 1.0
    # Sample 5 (A at 5): neighbours 4, 3, 8 (B), 2 -> one of four is of another class.
    assert shares[5] == 0.25
    # Exactly half is not "more than half": B at 8 and A at 102.5 seen from a 2-neighbour view.
    border_points = np.array([[0.0], [1.0], [2.0], [3.0]])
    border = embedding.neighbour_disagreement(border_points, ["A", "A", "B", "B"], k=2)
    assert border.tolist() == [0.5, 0.5, 0.5, 0.5]
    assert not embedding.ambiguous_samples(border_points, ["A", "A", "B", "B"], k=2).any()


def test_the_sample_itself_is_excluded_even_when_a_duplicate_has_another_class():
    points = np.array([[0.0], [0.0], [5.0], [5.1]])
    shares = embedding.neighbour_disagreement(points, ["A", "B", "A", "A"], k=1)
    assert shares.tolist() == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ConfigError, match="k must be between 1 and"):
        embedding.neighbour_disagreement(points, ["A", "B", "A", "A"], k=4)


def test_unlabelled_samples_have_no_share_and_are_not_neighbours():
    points, labels = hand_made_embedding()
    labels = labels[:12] + [None, None]  # the two planted samples lose their labels
    shares = embedding.neighbour_disagreement(points, labels, k=4)
    assert math.isnan(shares[12]) and math.isnan(shares[13])
    assert shares[5] == 0.0  # B at 8 is no longer a neighbour
    assert not embedding.ambiguous_samples(points, labels, k=4).any()


def test_record_is_flat_and_made_of_the_scores():
    points, labels = hand_made_embedding()
    table = pd.DataFrame(points, columns=["emb_0000"])
    codes = {"A": 0, "B": 1}
    table["label_index"] = pd.array([codes[name] for name in labels], dtype="Int64")
    table["predicted_index"] = [0] * 6 + [1] * 6 + [1, 0]  # the planted samples are wrong
    record = embedding.embedding_record(table, k=4)
    assert record == pytest.approx({
        "embedding_n_images": 14, "embedding_n_labelled": 14, "embedding_dimensions": 1,
        **{f"embedding_{key}": value
           for key, value in embedding.cluster_scores(points, labels).items()},
        "embedding_ambiguous_share": 2 / 14, "embedding_neighbours": 4,
        "embedding_ambiguous_share_chance": embedding.chance_ambiguous_share(points, labels,
                                                                             k=4),
        "embedding_chance_permutations": 20, "embedding_chance_seed": 0,
        "embedding_error_rate_ambiguous": 1.0, "embedding_error_rate_clear": 0.0,
    })
    assert all(isinstance(value, int | float) for value in record.values())


# --- the ambiguous share's chance level ------------------------------------------------------


def brute_force_neighbours(points: np.ndarray, k: int) -> np.ndarray:
    """The k nearest other points of each point, by a full distance matrix."""
    distances = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def permutation_chance(points, codes, k, permutations, seed):
    """The mean ambiguous share over seeded permutations of the labels, on brute-force
    neighbours."""
    neighbours = brute_force_neighbours(points, k)
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(permutations):
        permuted = rng.permutation(codes)
        other = (permuted[neighbours] != permuted[:, None]).sum(axis=1)
        shares.append(np.mean(other > k / 2))
    return float(np.mean(shares))


def hypergeometric_chance(codes, k):
    """The expected share under a uniformly random permutation, exactly: a sample of class c
    has k neighbours drawn without replacement from the other N - 1 samples, n_c - 1 of them
    of class c; it is ambiguous when fewer than k / 2 are."""
    n = len(codes)
    sizes = np.bincount(codes)
    return float(sum(size / n * stats.hypergeom(n - 1, size - 1, k).cdf(math.ceil(k / 2) - 1)
                     for size in sizes))


def embedding_table(points, codes) -> pd.DataFrame:
    """A table of embeddings with labels and (correct) predictions."""
    table = pd.DataFrame(points, columns=[f"emb_{i:04d}" for i in range(points.shape[1])])
    table["label_index"] = pd.array(codes, dtype="Int64")
    table["predicted_index"] = codes
    return table


def test_chance_level_is_the_share_of_permuted_labels_on_the_same_neighbours():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(120, 5))  # continuous: no ties between distances
    codes = np.repeat(np.arange(3), 40)
    labels = np.array(["a", "b", "c"])[codes]
    result = embedding.chance_ambiguous_share(points, labels, k=6, permutations=5, seed=9)
    assert result == pytest.approx(permutation_chance(points, codes, 6, 5, 9))
    assert result == embedding.chance_ambiguous_share(points, labels, k=6, permutations=5,
                                                      seed=9)
    with pytest.raises(ConfigError, match="permutations must be a positive whole number"):
        embedding.chance_ambiguous_share(points, labels, permutations=0)


@pytest.mark.parametrize("sizes", [(50,) * 8, (200, 200), (380, 20)],
                         ids=["eight balanced", "binary 50-50", "5 % minority"])
def test_on_noise_the_ambiguous_share_is_its_chance_level(sizes):
    # Pure noise: the share depends on the classes' number and sizes alone (99 %, 38 %, 5 %
    # at k = 10), and the permuted-label level, a mean over 50 permutations here, matches
    # both it and the exact expectation of a random permutation.
    rng = np.random.default_rng(len(sizes))
    codes = np.repeat(np.arange(len(sizes)), sizes)
    points = rng.normal(size=(len(codes), 16))
    exact = hypergeometric_chance(codes, 10)
    chance = embedding.chance_ambiguous_share(points, codes, k=10, permutations=50, seed=1)
    observed = embedding.ambiguous_samples(points, codes, k=10).mean()
    assert chance == pytest.approx(exact, abs=0.01)
    assert observed == pytest.approx(exact, abs=0.04)
    record = embedding.embedding_record(embedding_table(points, codes), k=10, prefix="")
    assert record["ambiguous_share"] == pytest.approx(observed)
    assert record["ambiguous_share_chance"] == pytest.approx(
        embedding.chance_ambiguous_share(points, codes, k=10), abs=1e-12)


def test_separated_classes_lie_far_below_their_chance_level():
    points, classes = make_blobs(n_samples=160, centers=8, n_features=4, cluster_std=0.3,
                                 random_state=0)
    record = embedding.embedding_record(embedding_table(points, classes), prefix="")
    assert record["ambiguous_share"] < 0.05 < 0.9 < record["ambiguous_share_chance"]


# --- the map and its figure ------------------------------------------------------------------


def test_map_is_scikit_learns_seeded_tsne_after_pca():
    points, _ = make_blobs(n_samples=60, centers=3, n_features=80, random_state=1)
    coordinates = embedding.embedding_map(points, seed=3, perplexity=10)
    reduced = PCA(n_components=50, random_state=3).fit_transform(points)
    expected = TSNE(n_components=2, perplexity=10, init="pca", learning_rate="auto",
                    random_state=3).fit_transform(reduced)
    np.testing.assert_allclose(coordinates, expected)
    np.testing.assert_array_equal(coordinates, embedding.embedding_map(points, seed=3,
                                                                       perplexity=10))


def test_map_keeps_separated_clusters_apart_and_handles_small_sets():
    points, classes = make_blobs(n_samples=60, centers=3, n_features=10, cluster_std=0.5,
                                 random_state=2)
    coordinates = embedding.embedding_map(points, seed=0)
    assert embedding.neighbour_disagreement(coordinates, classes, k=5).max() == 0.0
    assert embedding.embedding_map(points[:6], seed=0).shape == (6, 2)  # perplexity lowered
    with pytest.raises(DataError, match="N >= 4"):
        embedding.embedding_map(points[:3])


def test_embedding_map_figure_marks_misclassified_and_unlabelled_points(tmp_path):
    points, classes = make_blobs(n_samples=150, centers=3, n_features=10, cluster_std=2.5,
                                 random_state=4)
    names = np.array(["amusement", "awe", "sadness"], dtype=object)
    labels = pd.Series(names[classes])
    labels[:20] = None
    predicted = names[classes].copy()
    predicted[20:50] = names[(classes[20:50] + 1) % 3]
    coordinates = embedding.embedding_map(points, seed=0)
    fig = plot_embedding_map(coordinates, labels, predicted=predicted, class_names=list(names),
                             title="Gram, 4 modules")
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert legend == ["amusement", "awe", "sadness", "unlabelled", "misclassified (30)"]
    drawn = sum(len(collection.get_offsets()) for collection in fig.axes[0].collections)
    assert drawn == 150 + 30  # every point, and a cross on each misclassified one
    written = save_figure(fig, "embedding_map", results_dir=tmp_path)
    assert written["png"].stat().st_size > 10_000
    with pytest.raises(DataError, match="not among the classes"):
        plot_embedding_map(coordinates, labels, class_names=["amusement", "awe"])
