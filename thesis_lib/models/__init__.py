"""The networks of the thesis: EfficientNetV2 baselines, Gram-module models and GramNet
(docs/models.md). The public names below are imported on first use, so that ``thesis --help``
(which loads ``thesis_lib.cli.models``) does not wait for Keras and TensorFlow to load.
"""

import importlib

# Public name -> the module that defines it.
_EXPORTS = {
    "BACKBONES": "thesis_lib.models.backbones",
    "DEFAULT_TAPS": "thesis_lib.models.backbones",
    "default_taps": "thesis_lib.models.backbones",
    "get_backbone": "thesis_lib.models.backbones",
    "load_backbone": "thesis_lib.models.backbones",
    "tap_candidates": "thesis_lib.models.backbones",
    "DEFAULT_DROPOUT": "thesis_lib.models.variants",
    "VARIANTS": "thesis_lib.models.variants",
    "check_variant": "thesis_lib.models.variants",
    "consecutive_pairs": "thesis_lib.models.variants",
    "build_model": "thesis_lib.models.builders",
    "load_model": "thesis_lib.models.builders",
    "embedding_model": "thesis_lib.models.embeddings",
    "embedding_output": "thesis_lib.models.embeddings",
    "ContrastiveCenterTraining": "thesis_lib.models.contrastive",
    "with_contrastive_center": "thesis_lib.models.contrastive",
    "count_flops": "thesis_lib.models.summary",
    "describe_model": "thesis_lib.models.summary",
    "model_pairs": "thesis_lib.models.summary",
    "model_taps": "thesis_lib.models.summary",
    "summarize_variants": "thesis_lib.models.summary",
    "tap_table": "thesis_lib.models.summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'thesis_lib.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
