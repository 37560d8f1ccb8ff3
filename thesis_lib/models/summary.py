"""What each network is, in numbers: parameters, tapped layers with their shapes, and FLOPs.

FLOPs are counted analytically from the layer shapes: 2 x the multiply-accumulates of every
convolution (regular and depthwise), dense layer and Gram product, per image, forward pass.
Batch normalisation, activations, pooling and element-wise operations are left out; they add a
few per cent. This is the convention of the EfficientNetV2 paper (Tan & Le, 2021) up to the
factor 2: its "FLOPs" are multiply-accumulates (0.72 B for B0 at 224 px, 1.7 B for B2 at 260).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import keras
import numpy as np
import pandas as pd

from thesis_lib.layers import GramBranch, GramMatrix, GramModule, PairwiseGram, PairwiseGramModule
from thesis_lib.models.backbones import (
    MAX_DEFAULT_MODULES,
    STAGES_FOR_MODULES,
    get_backbone,
    load_backbone,
)
from thesis_lib.models.builders import build_model
from thesis_lib.models.variants import MAX_DEFAULT_PAIRS, VARIANTS

# The most modules each variant's default table can give (pairwise: N pairs use N + 1 taps).
MAX_DEFAULT_MODULES_OF = {"pairwise": MAX_DEFAULT_PAIRS}


def describe_model(model: keras.Model) -> dict:
    """Parameters, taps and FLOPs of a model built by ``build_model`` (or reloaded from disk).

    Args:
        model: the model.

    Returns:
        A dict with ``model`` (its name), ``params``, ``trainable``, ``backbone_params``,
        ``flops`` (per image, forward pass), ``taps`` (``"layer HxWxC"`` joined by ``"; "``)
        and ``pairs`` (``"a x b"`` joined by ``"; "``, empty but for the pairwise network).
    """
    backbone = _find_backbone(model)
    return {
        "model": model.name,
        "params": model.count_params(),
        "trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "backbone_params": backbone.count_params() if backbone is not None else None,
        "flops": count_flops(model),
        "taps": "; ".join(f"{name} {_format_shape(shape)}" for name, shape in model_taps(model)),
        "pairs": "; ".join(f"{a} x {b}" for a, b in model_pairs(model)),
    }


def summarize_variants(
    *,
    backbone: str = "EfficientNetV2B2",
    image_size: int = 256,
    modules: Sequence[int] = (4,),
    variants: Sequence[str] = VARIANTS,
    num_classes: int = 2,
) -> pd.DataFrame:
    """``describe_model`` of every variant, built with random weights (nothing is downloaded).

    Args:
        backbone: the backbone name.
        image_size: side of the square input.
        modules: module counts to show for the Gram variants (one row per count; for
            ``pairwise`` the number of pairs).
        variants: which of ``VARIANTS`` to include.
        num_classes: number of output classes.

    Returns:
        One row per model, columns as ``describe_model`` plus ``flops_vs_baseline``. A count
        beyond a variant's default table (6 modules for ``pairwise``, whose default pairs go
        up to 5) has no row; ``table.attrs["skipped"]`` lists those as ``(variant, count)``.
    """
    rows = []
    skipped = []
    for variant in variants:
        counts = [0] if variant == "baseline" else modules
        for count in counts:
            if count > MAX_DEFAULT_MODULES_OF.get(variant, MAX_DEFAULT_MODULES):
                skipped.append((variant, count))
                continue
            model = build_model(
                variant,
                backbone=backbone,
                image_size=image_size,
                modules=count,
                num_classes=num_classes,
                weights=None,
            )
            rows.append(describe_model(model))
            keras.backend.clear_session()
    table = pd.DataFrame(rows)
    baseline = table.loc[table["model"].str.startswith("baseline"), "flops"]
    if len(baseline):
        table["flops_vs_baseline"] = (table["flops"] / baseline.iloc[0]).round(4)
    table.attrs["skipped"] = skipped
    return table


def tap_table(backbone: str = "EfficientNetV2B2", image_size: int = 256) -> pd.DataFrame:
    """The default taps of a backbone: stage, layer, shape at ``image_size``, and N using it.

    Args:
        backbone: the backbone name.
        image_size: side of the square input.
    """
    spec = get_backbone(backbone)
    model = load_backbone(spec.name, image_size=image_size, weights=None)
    rows = []
    for stage, (name, _) in enumerate(spec.stage_ends, start=1):
        used_by = [n for n, stages in STAGES_FOR_MODULES.items() if stage in stages]
        rows.append(
            {
                "stage": stage,
                "layer": name,
                "shape": _format_shape(model.get_layer(name).output.shape[1:]),
                "default for modules": ", ".join(map(str, used_by)),
            }
        )
    keras.backend.clear_session()
    return pd.DataFrame(rows)


def model_taps(model: keras.Model) -> list[tuple[str, tuple[int, ...]]]:
    """(layer name, (H, W, C)) of each backbone layer a Gram module reads, shallow to deep."""
    backbone = _find_backbone(model)
    if backbone is None:
        return []
    # The backbone's first output is its last feature map; the others are the taps.
    return [
        (name, tuple(output.shape[1:]))
        for name, output in zip(backbone.output_names[1:], backbone.outputs[1:], strict=True)
    ]


def model_pairs(model: keras.Model) -> list[tuple[str, str]]:
    """(layer a, layer b) of each pairwise Gram module, in the model's order (pairwise only)."""
    backbone = _find_backbone(model)
    if backbone is None:
        return []
    pairs = []
    for layer in model.layers:
        if isinstance(layer, PairwiseGramModule):
            # Each input of the module is one output of the backbone; its index names the tap.
            indices = [tensor._keras_history.tensor_index for tensor in layer.input]
            pairs.append(tuple(backbone.output_names[index] for index in indices))
    return pairs


def count_flops(model: keras.Model) -> int:
    """Forward FLOPs per image (2 x multiply-accumulates; see the module docstring)."""
    return int(sum(_layer_flops(layer) for layer in _leaf_layers(model)))


def _leaf_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """The layers of a functional model, descending into nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _layer_flops(layer: keras.layers.Layer) -> float:
    if isinstance(layer, GramModule):
        return _gram_module_flops(layer, tuple(layer.input.shape))
    if isinstance(layer, PairwiseGramModule):
        return _pairwise_module_flops(layer, [tuple(x.shape) for x in layer.input])
    if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense):
        return _weighted_layer_flops(layer, tuple(layer.output.shape))
    if isinstance(layer, GramMatrix):
        return _gram_product_flops(layer.input.shape, layer.input.shape)
    if isinstance(layer, PairwiseGram):
        return _gram_product_flops(*(x.shape for x in layer.input))
    return 0.0


def _gram_product_flops(first, second) -> float:
    """2 x MACs of the (cross-)Gram product of two (B, H, W, C) maps on their smaller grid."""
    height, width = min(first[1], second[1]), min(first[2], second[2])
    return 2.0 * height * width * first[3] * second[3]


def _weighted_layer_flops(layer, output_shape: tuple) -> float:
    """2 x MACs of a Conv2D, DepthwiseConv2D or Dense from its kernel and output shape."""
    kernel = layer.kernel.shape
    positions = float(np.prod(output_shape[1:-1]))  # output pixels (1 for a Dense on vectors)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        # kernel (kh, kw, C_in, multiplier): each output channel sees one input channel.
        return 2.0 * positions * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    # Conv2D kernel (kh, kw, C_in / groups, C_out); Dense kernel (C_in, C_out).
    return 2.0 * positions * float(np.prod(kernel))


def _gram_module_flops(module: GramModule, input_shape: tuple) -> float:
    """Reduction conv + Gram product + head convs of one GramModule."""
    reduced = module.reduce_conv.compute_output_shape(input_shape)
    flops = _weighted_layer_flops(module.reduce_conv, reduced)
    flops += _gram_product_flops(reduced, reduced)
    return flops + _head_flops(module, input_shape[0])


def _pairwise_module_flops(module: PairwiseGramModule, input_shapes: list[tuple]) -> float:
    """Both reduction convs + the cross-Gram product on the smaller grid + head convs."""
    flops = 0.0
    reduced = []
    for conv, shape in zip(
        (module.reduce_conv_a, module.reduce_conv_b), input_shapes, strict=True
    ):
        reduced.append(conv.compute_output_shape(shape))
        flops += _weighted_layer_flops(conv, reduced[-1])
    flops += _gram_product_flops(*reduced)
    return flops + _head_flops(module, input_shapes[0][0])


def _head_flops(module: GramBranch, batch) -> float:
    """The head convolutions of a Gram module, on its C x C matrix as a 1-channel image."""
    flops = 0.0
    shape = (batch, module.channels, module.channels, 1)
    for conv in module.head_convs:
        shape = conv.compute_output_shape(shape)
        flops += _weighted_layer_flops(conv, shape)
    return flops


def _find_backbone(model: keras.Model) -> keras.Model | None:
    try:
        return model.get_layer("backbone")
    except ValueError:
        return None


def _format_shape(shape: Iterable) -> str:
    return "x".join(str(d) for d in shape)
