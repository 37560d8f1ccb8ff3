"""The per-epoch checkpoint holds every weight and the optimizer's whole state, and checkpoints
that earlier versions wrote as Keras ``.weights.h5`` still load."""

import keras
import numpy as np
import pytest

from thesis_lib.errors import ThesisError
from thesis_lib.models import build_model
from thesis_lib.training.callbacks import load_checkpoint, save_checkpoint


def trained_model(seed: int):
    """A Tiny Gram network after two Adam steps (moments and step counter set)."""
    keras.utils.set_random_seed(seed)
    model = build_model("gram", backbone="Tiny", image_size=32, modules=1, weights=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    images = np.random.default_rng(seed).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = keras.utils.to_categorical([0, 1, 0, 1], 2)
    for _ in range(2):
        model.train_on_batch(images, labels)
    return model


def values(variables) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(variable) for variable in variables]


def weights(model) -> list[np.ndarray]:
    """The network's variables but its random generators' states: Keras's .weights.h5 leaves
    them out, and a resumed run takes them from the checkpoint's state.json."""
    return values(v for v in model.variables if not v.path.endswith("seed_generator_state"))


def assert_same_state(model, other) -> None:
    for mine, theirs in zip(weights(model), weights(other), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    mine, theirs = values(model.optimizer.variables), values(other.optimizer.variables)
    assert len(mine) == len(theirs) > 2
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def trained():
    return trained_model(seed=0)


def fresh_model():
    """Another network of the same architecture whose optimizer has not been built."""
    keras.utils.set_random_seed(1)
    model = build_model("gram", backbone="Tiny", image_size=32, modules=1, weights=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    return model


@pytest.mark.parametrize("suffix", [".npz", ".weights.h5"], ids=["npz", "keras-h5"])
def test_a_checkpoint_restores_weights_and_optimizer_state_exactly(trained, tmp_path, suffix):
    path = tmp_path / f"epoch-1{suffix}"
    if suffix == ".npz":
        save_checkpoint(trained, path)
    else:  # as versions before the .npz checkpoint wrote it
        trained.save_weights(path)
    restored = fresh_model()
    assert not np.array_equal(values(restored.variables)[0], values(trained.variables)[0])

    load_checkpoint(restored, path)

    assert_same_state(trained, restored)
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 2


def test_the_best_model_loads_the_weights_without_the_optimizer(trained, tmp_path):
    path = tmp_path / "best-epoch-0.npz"
    save_checkpoint(trained, path)
    restored = fresh_model()

    load_checkpoint(restored, path, optimizer=False)

    for mine, theirs in zip(values(trained.variables), values(restored.variables), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert not restored.optimizer.built


def test_a_checkpoint_of_another_network_is_one_error(trained, tmp_path):
    path = tmp_path / "epoch-0.npz"
    save_checkpoint(trained, path)
    keras.utils.set_random_seed(0)
    other = build_model("gram", backbone="Tiny", image_size=32, modules=2, weights=None)
    other.compile(optimizer="adam", loss="categorical_crossentropy")

    with pytest.raises(ThesisError, match="epoch-0.npz: its variables do not match the "
                                          "network's; the checkpoint belongs to another"):
        load_checkpoint(other, path)
