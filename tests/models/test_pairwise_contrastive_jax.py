"""On the JAX backend: the pairwise network trains, and so does its contrastive-center model."""

import textwrap

import pytest
from jax_subprocess import run_on_jax

pytestmark = [pytest.mark.jax, pytest.mark.slow]

JAX_SCRIPT = textwrap.dedent(
    """
    import numpy as np

    import keras

    from thesis_lib.models import build_model, model_pairs, with_contrastive_center

    assert keras.backend.backend() == "jax"
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(4, 64, 64, 3)).astype("float32")
    labels = keras.utils.to_categorical([0, 1, 0, 1], 2)

    # The Tiny backbone carries B0's tap names (B0 itself builds on JAX in test_model_jax.py).
    model = build_model("pairwise", backbone="Tiny", image_size=64, modules=2, weights=None)
    assert model_pairs(model) == [("block2b_add", "block4c_add"), ("block4c_add", "block6h_add")]
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (4, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    module = model.get_layer("pair_block2b_add_block4c_add")
    watched = [module.reduce_conv_a.kernel, module.reduce_conv_b.kernel,
               model.get_layer("classifier").kernel]
    before = [np.array(w) for w in watched]
    loss = model.train_on_batch(images, labels)
    assert np.isfinite(loss)
    for weight, value in zip(watched, before):
        assert not np.array_equal(value, np.array(weight)), weight.path
    print("pairwise OK")

    training = with_contrastive_center(model, weight=0.5, center_lr=5.0)
    training.model.compile(optimizer="sgd", **training.compile_arguments())
    x, y = training.batch(images, labels)
    history = training.model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0).history
    assert set(history) == {"loss", "probabilities_loss", "contrastive_center_loss",
                            "probabilities_accuracy"}, history
    total = history["probabilities_loss"][0] + 0.5 * history["contrastive_center_loss"][0]
    np.testing.assert_allclose(history["loss"][0], total, rtol=1e-5)
    centers = np.array(training.layer.centers)
    assert np.isfinite(centers).all() and np.abs(centers).max() > 0, "the centers did not move"
    assert training.inference_model.predict(images, verbose=0).shape == (4, 2)
    print("contrastive-center OK")
    """
)


def test_pairwise_network_and_contrastive_center_training_on_jax():
    result = run_on_jax(JAX_SCRIPT, timeout=600)
    assert "pairwise OK" in result.stdout
    assert "contrastive-center OK" in result.stdout
