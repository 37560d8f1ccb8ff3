"""What the networks look at: Gram-matrix heatmaps (``layers.GramMatrix``) and Grad-CAM.

Grad-CAM (Selvaraju et al., ICCV 2017) weights each channel k of a layer's feature map A by the
spatial mean of dy/dA_k and shows ReLU(sum_k w_k A_k), upsampled and scaled to [0, 1]. The
networks end in a softmax without exposing logits, so y is the probability p_c; its gradient is
p_c times that of log p_c = z_c - logsumexp(z), and p_c cancels in the scaling: the map shows
the evidence for class c against the others (with two classes, the logit difference). By
default each image is explained for its predicted class.

The gradient comes from ``tf.GradientTape`` on TensorFlow and ``jax.grad`` on JAX; JAX needs
the model split at the layer, so the layer must cut the model in two (the default does).
Layers are also searched one level down, because ``build_model`` nests the EfficientNetV2
backbone as a model named ``backbone``, fed the outer model's input directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from thesis_lib.errors import ConfigError, DataError
from thesis_lib.figures.style import (
    BASE_FONT_SIZE,
    HEATMAP_CMAP,
    figure_size,
    publication_style,
)

OVERLAY_CMAP = "inferno"
# Widest panel of an image grid (inches), and room for the colour bar and the titles.
_MAX_PANEL = 1.8
_COLORBAR_ROOM = 0.8
_TITLE_ROOM = 0.35


def _layers_last_first(model: keras.Model):
    """(container, layer) pairs from the output backwards, descending into nested models."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model):
            for inner in reversed(layer.layers):
                yield layer, inner
        yield None, layer


def _output_rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # layers with several outputs, or never called
        return None


def find_layer(model: keras.Model, layer_name: str | None = None):
    """``(container, layer)``: the layer called ``layer_name`` (default: the last one with a
    4-D output) and the nested model holding it (``None``: a layer of ``model`` itself).

    Raises:
        ConfigError: no such layer; the message lists the 4-D layers near the output.
    """
    candidates = [
        (container, layer)
        for container, layer in _layers_last_first(model)
        if not isinstance(layer, keras.Model) and _output_rank(layer) == 4
    ]
    if layer_name is None:
        if not candidates:
            raise ConfigError(f"model {model.name!r} has no layer with a 4-D feature map")
        return candidates[0]
    for container, layer in _layers_last_first(model):
        if layer.name == layer_name:
            return container, layer
    names = [layer.name for _, layer in candidates[:8]]
    raise ConfigError(
        f"model {model.name!r} has no layer {layer_name!r}; feature-map layers nearest the "
        f"output: {names}"
    )


def _image_grid(images: np.ndarray, titles: Sequence[str], width: str | float):
    """Two rows of square panels, the titled images on top: (fig, axes, images as uint8).
    Panels never grow beyond ``_MAX_PANEL``, so that two images do not fill a page."""
    count = len(images)
    panel = min(_MAX_PANEL, (figure_size(width)[0] - _COLORBAR_ROOM) / max(count, 1))
    size = (panel * count + _COLORBAR_ROOM, 2 * (panel + _TITLE_ROOM))
    fig, axes = plt.subplots(2, count, figsize=size, squeeze=False)
    pictures = np.clip(images, 0, 255).astype("uint8")
    for ax, picture, title in zip(axes[0], pictures, titles, strict=True):
        ax.imshow(picture)
        ax.set_title(title, fontsize=BASE_FONT_SIZE)
        ax.axis("off")
    return fig, axes, pictures


def _check_images(model: keras.Model, images) -> np.ndarray:
    array = np.asarray(images, dtype="float32")
    expected = tuple(model.inputs[0].shape[1:])
    if array.ndim != 4 or tuple(array.shape[1:]) != expected:
        raise DataError(
            f"images have shape {array.shape}; model {model.name!r} takes (batch, *{expected})"
        )
    return array


def _container_call(model: keras.Model, container: keras.Model):
    """The node where ``model`` calls the nested ``container`` on its own input.

    Keras 3 keeps no public handle on the tensors a nested model produces inside the outer
    graph; its call node (``_inbound_nodes``) holds them.
    """
    nodes = [
        node
        for node in container._inbound_nodes
        if any(tensor is model.inputs[0] for tensor in node.input_tensors)
    ]
    if len(nodes) != 1:
        raise ConfigError(
            f"nested model {container.name!r} is not called once on the images of "
            f"{model.name!r}; pass a layer of the outer model instead"
        )
    return nodes[0]


def feature_maps(model: keras.Model, images, layer_name: str) -> np.ndarray:
    """The output (B, H, W, C) of layer ``layer_name`` (e.g. a Gram tap) for ``images``
    ((B, S, S, 3) RGB in 0..255), as float32 numpy."""
    images = _check_images(model, images)
    container, layer = find_layer(model, layer_name)
    source = model if container is None else container
    if container is not None:
        _container_call(model, container)
    extractor = keras.Model(source.inputs[0], layer.output)
    maps = keras.ops.convert_to_numpy(extractor(images, training=False))
    if maps.ndim != 4:
        raise ConfigError(f"layer {layer_name!r} gives shape {maps.shape}, not a 4-D feature map")
    return maps


def gram_matrices(features, *, normalization: str | None = "chw") -> np.ndarray:
    """Gram matrices (B, C, C) of feature maps (B, H, W, C) through ``GramMatrix``; pass
    ``images / 255`` for the 3 x 3 colour correlations of the images themselves."""
    from thesis_lib.layers import GramMatrix

    array = np.asarray(features, dtype="float32")
    if array.ndim != 4:
        raise DataError(f"feature maps must have shape (B, H, W, C); got {array.shape}")
    return keras.ops.convert_to_numpy(GramMatrix(normalization=normalization)(array))


def plot_gram_heatmaps(
    images,
    grams,
    titles: Sequence[str],
    *,
    max_channels: int = 32,
    channel_names: Sequence[str] | None = None,
    value_label: str = "Gram entry (/ C·H·W)",
    width: str | float = "double",
) -> Figure:
    """Sample images (top row) above the heatmaps of their Gram matrices (bottom row).

    All heatmaps share one colour scale, so images can be compared entry by entry.

    Args:
        images: (N, H, W, 3) RGB in 0..255.
        grams: (N, C, C) Gram matrices of the same images.
        titles: one title per image (e.g. "sadness" / "not sadness").
        max_channels: show only the first channels of large matrices (readability).
        channel_names: tick labels of the channels, e.g. ``["R", "G", "B"]`` for images.
        value_label: colour-bar label (the normalisation of the entries).
        width: ``"single"``, ``"double"`` or inches.
    """
    images = np.asarray(images)
    grams = np.asarray(grams, dtype=float)[:, :max_channels, :max_channels]
    if len(images) != len(grams) or len(titles) != len(images):
        raise DataError(
            f"got {len(images)} images, {len(grams)} Gram matrices and {len(titles)} titles; "
            "need one of each per image"
        )
    vmin, vmax = float(grams.min()), float(grams.max())
    with publication_style():
        fig, axes, _ = _image_grid(images, titles, width)
        for column, gram_ax in enumerate(axes[1]):
            shown = gram_ax.imshow(grams[column], cmap=HEATMAP_CMAP, vmin=vmin, vmax=vmax)
            if channel_names is not None:
                ticks = range(len(channel_names))
                gram_ax.set_xticks(ticks, channel_names)
                gram_ax.set_yticks(ticks, channel_names)
            gram_ax.set_xlabel("Channel")
            if column == 0:
                gram_ax.set_ylabel("Channel")
            else:
                gram_ax.tick_params(axis="y", labelleft=False)
        fig.colorbar(shown, ax=axes[1, :].tolist(), label=value_label, shrink=0.9)
    return fig


def _activation_and_prediction_fn(model: keras.Model, container, layer):
    """A function images -> (feature map of ``layer``, model output), one forward pass."""
    if container is None:
        both = keras.Model(model.inputs[0], [layer.output, *model.outputs])
        return lambda images: both(images, training=False)
    call = _container_call(model, container)
    # The nested model returns the feature map besides its own outputs; the rest of the outer
    # model is re-used as a model from the nested model's outputs to the prediction.
    inner = keras.Model(container.inputs[0], [layer.output, *container.outputs])
    rest = _rest_of_model(model, container, call)

    def forward(images):
        activation, *container_outputs = inner(images, training=False)
        return activation, rest(container_outputs, training=False)

    return forward


def _rest_of_model(model: keras.Model, container, call) -> keras.Model:
    """The outer model from the nested model's outputs to the prediction."""
    try:
        return keras.Model(list(call.output_tensors), model.outputs)
    except ValueError as error:
        raise ConfigError(
            f"cannot split {model.name!r} after nested model {container.name!r} for Grad-CAM "
            f"({error}); pass a layer of the outer model"
        ) from None


def _split_at_layer(model: keras.Model, container, layer):
    """``(head, tail)`` for backends without a gradient tape (JAX): ``head(images)`` gives the
    feature map and the other values the rest needs, ``tail(feature_map, values)`` the
    prediction. Every path to the prediction must pass through the layer."""
    explain = (f"on the {keras.backend.backend()!r} backend Grad-CAM needs a layer that every "
               f"path to the prediction passes through (the default, the backbone's last "
               f"feature map, is one); {layer.name!r} is not, use KERAS_BACKEND=tensorflow")
    if container is None:
        try:
            tail_model = keras.Model(layer.output, model.outputs)
        except ValueError:
            raise ConfigError(explain) from None
        head_model = keras.Model(model.inputs[0], layer.output)
        return (lambda images: (head_model(images, training=False), []),
                lambda activation, _: tail_model(activation, training=False))
    position = next((index for index, tensor in enumerate(container.outputs)
                     if tensor is layer.output), None)
    if position is None or _feeds_later_layers(container, layer):
        raise ConfigError(explain)
    call = _container_call(model, container)
    rest = _rest_of_model(model, container, call)
    inner = keras.Model(container.inputs[0], container.outputs)

    def head(images):
        outputs = inner(images, training=False)
        outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
        return outputs[position], outputs

    def tail(activation, outputs):
        return rest([*outputs[:position], activation, *outputs[position + 1:]], training=False)

    return head, tail


def _feeds_later_layers(container: keras.Model, layer) -> bool:
    """Whether ``layer``'s output is the input of another layer of ``container``."""
    return any(
        node.operation is not layer
        and any(tensor is layer.output for tensor in node.input_tensors)
        for inner in container.layers
        for node in getattr(inner, "_inbound_nodes", [])
    )


def _gradients_tensorflow(model, container, layer, images, class_index):
    """(feature map, d class score / d feature map) with ``tf.GradientTape``."""
    import tensorflow as tf

    forward = _activation_and_prediction_fn(model, container, layer)
    batch = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        activation, probabilities = forward(batch)
        targets = _targets(probabilities, class_index, len(images))
        scores = tf.gather(probabilities, targets, axis=1, batch_dims=1)
    return activation, tape.gradient(scores, activation)


def _gradients_jax(model, container, layer, images, class_index):
    """(feature map, d class score / d feature map) with ``jax.grad`` on the model's tail."""
    import jax
    import jax.numpy as jnp

    head, tail = _split_at_layer(model, container, layer)
    # Compiled once as a whole: run layer by layer, JAX would compile every operation apart.
    activation, values = jax.jit(head)(jnp.asarray(images))
    targets = _targets(jax.jit(tail)(activation, values), class_index, len(images))

    def summed_scores(feature_map, values, targets):
        # Images do not interact at inference, so the gradient of the sum is each image's own.
        probabilities = tail(feature_map, values)
        return jnp.sum(jnp.take_along_axis(probabilities, targets[:, None], axis=1))

    return activation, jax.jit(jax.grad(summed_scores))(activation, values, targets)


def _targets(probabilities, class_index, count: int):
    """The explained class of each image: its predicted class, or the requested one(s)."""
    if class_index is None:
        return keras.ops.cast(keras.ops.argmax(probabilities, axis=-1), "int32")
    return keras.ops.broadcast_to(keras.ops.convert_to_tensor(class_index, "int32"), (count,))


_GRADIENTS = {"tensorflow": _gradients_tensorflow, "jax": _gradients_jax}


def grad_cam(
    model: keras.Model,
    images,
    *,
    layer_name: str | None = None,
    class_index: int | Sequence[int] | None = None,
) -> np.ndarray:
    """Grad-CAM heatmaps (N, S, S) in [0, 1] at the images' size (TensorFlow or JAX backend).

    Args:
        model: a Keras classifier with softmax output (e.g. from ``build_model``).
        images: (N, S, S, 3) RGB in 0..255, as the model takes them.
        layer_name: convolutional layer to explain; default the last layer with a 4-D
            output (``top_activation`` of an EfficientNetV2 backbone).
        class_index: the class to explain, one for all images or one per image; default
            each image's predicted class (the argmax of the model's output).

    Returns:
        float32 array; each map divided by its maximum (all zeros if the class score has no
        positive evidence in that layer).

    Raises:
        ConfigError: an unknown layer or class, a backend other than TensorFlow or JAX, or
            (JAX) a layer that does not cut the model in two.
    """
    backend = keras.backend.backend()
    if backend not in _GRADIENTS:
        raise ConfigError(
            f"Grad-CAM takes gradients with TensorFlow or JAX; the Keras backend is "
            f"{backend!r} (set KERAS_BACKEND=tensorflow or jax)"
        )
    images = _check_images(model, images)
    container, layer = find_layer(model, layer_name)
    num_classes = model.outputs[0].shape[-1]
    requested = np.atleast_1d(class_index if class_index is not None else 0)
    if requested.min() < 0 or requested.max() >= num_classes or (
        requested.size > 1 and requested.size != len(images)
    ):
        raise ConfigError(
            f"class_index {class_index!r} is not a class of {model.name!r} (0..{num_classes - 1})"
            f" or one class per image ({len(images)})"
        )
    activation, gradients = _GRADIENTS[backend](model, container, layer, images, class_index)
    if gradients is None:
        raise ConfigError(f"the prediction does not depend on layer {layer.name!r}")
    return _cams(activation, gradients, images.shape[1:3])


def _cams(activation, gradients, size) -> np.ndarray:
    """ReLU of the gradient-weighted channel sum, upsampled (bilinear) and scaled to [0, 1]."""
    ops = keras.ops
    channel_weights = ops.mean(gradients, axis=(1, 2), keepdims=True)
    cams = ops.relu(ops.sum(channel_weights * activation, axis=-1, keepdims=True))
    cams = ops.convert_to_numpy(ops.image.resize(cams, tuple(size), interpolation="bilinear"))
    cams = cams[..., 0].astype("float64")
    peak = cams.reshape(len(cams), -1).max(axis=1)[:, None, None]
    cams = np.divide(cams, peak, out=np.zeros_like(cams), where=peak > 0)
    return np.clip(cams, 0.0, 1.0).astype("float32")


def plot_grad_cam(
    images,
    heatmaps,
    titles: Sequence[str],
    *,
    alpha: float = 0.5,
    width: str | float = "double",
) -> Figure:
    """Images (top row) and their Grad-CAM heatmaps laid over them (bottom row).

    Args:
        images: (N, H, W, 3) RGB in 0..255.
        heatmaps: (N, H, W) in [0, 1], e.g. from :func:`grad_cam`.
        titles: one title per image, e.g. "sadness, p = 0.91".
        alpha: opacity of the heatmap over the image.
        width: ``"single"``, ``"double"`` or inches.
    """
    images = np.asarray(images)
    heatmaps = np.asarray(heatmaps, dtype=float)
    if heatmaps.shape != images.shape[:3] or len(titles) != len(images):
        raise DataError(
            f"images {images.shape}, heatmaps {heatmaps.shape} and {len(titles)} titles do not "
            "match: need (N, H, W, 3), (N, H, W) and N titles"
        )
    with publication_style():
        fig, axes, pictures = _image_grid(images, titles, width)
        for ax, picture, heatmap in zip(axes[1], pictures, heatmaps, strict=True):
            ax.imshow(picture)
            ax.imshow(heatmap, cmap=OVERLAY_CMAP, alpha=alpha, vmin=0, vmax=1)
            ax.axis("off")
        # The colour bar shows the map's own colours, not the faded blend with the image.
        scale = ScalarMappable(norm=Normalize(0, 1), cmap=OVERLAY_CMAP)
        fig.colorbar(scale, ax=axes[1, :].tolist(), label="Grad-CAM (0-1)", shrink=0.9)
    return fig
