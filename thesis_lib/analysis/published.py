"""The published numbers this workbench reproduces, in one place (accuracies as fractions).

Sources (docs/research.md): the thesis (doctoral progress report) and Motiejauskas & Dzemyda,
IJCCC 19(5), 2024 (binary sadness on WEBEmo, 5 trials per network, the cross-dataset test); the
dissertation (2026) and IEEE Access 13, 139174-139187 (2025) (EfficientNetV2S studies).
"""

from __future__ import annotations

import pandas as pd

# Binary sadness on WEBEmo: mean overall accuracy and SD of 5 trials per network. The report
# does not say whether the SDs are sample (ddof = 1) or population (ddof = 0) SDs.
THESIS_BASELINE = "baseline EfficientNetV2B2"
_THESIS_TABLE = {
    "network": [THESIS_BASELINE, "B2 + 2 Gram modules", "B2 + 3 Gram modules",
                "B2 + 4 Gram modules", "Zhang et al. 2022 model"],
    "modules": [0, 2, 3, 4, None],
    "mean": [0.81368, 0.81772, 0.81806, 0.81826, 0.81542],
    "sd": [0.00174, 0.00118, 0.00177, 0.00086, 0.00238],
    "n": [5, 5, 5, 5, 5],
}

# The progress report's 95 % CI of proposed - baseline, in percentage points, without its row:
# recomputed, it is 3 modules with population SDs and a pooled t, (0.152, 0.724); no reading
# of the 4-module row gives it (thesis_lib.analysis.published_interval_readings).
PUBLISHED_INTERVAL_PP = (0.146, 0.726)

# The proposed model and the baseline, trained on WEBEmo's sadness split and tested unchanged
# on other datasets (sad vs not sad); single means, no seeds. The majority rate is known for
# Emotion-6 alone (330 sad of 1,980 images), above both published accuracies.
_EMOTION6_MAJORITY = 1650 / 1980
_CROSS_DATASET = {
    "dataset": ["test split", "UnbiasedEmo", "Emotion-6"] * 2,
    "network": ["baseline"] * 3 + ["proposed"] * 3,
    "accuracy": [0.8141, 0.8085, 0.6946, 0.8179, 0.8159, 0.7281],
    "majority_rate": [float("nan"), float("nan"), _EMOTION6_MAJORITY] * 2,
}

# The dissertation's second study: EfficientNetV2S baseline -> + four Gram modules -> + the
# contrastive-center loss (WEBEmo sadness), and baseline -> proposed on FI-8 and EmoSet-118K.
_DISSERTATION = {
    "dataset": ["WEBEmo sadness", "WEBEmo sadness", "WEBEmo sadness", "FI-8", "FI-8",
                "EmoSet-118K", "EmoSet-118K"],
    "network": ["baseline EfficientNetV2S", "S + 4 Gram modules",
                "S + 4 Gram modules + contrastive-center loss",
                "baseline", "proposed", "baseline", "proposed"],
    "accuracy": [0.8131, 0.8252, 0.8374, 0.6968, 0.7188, 0.7794, 0.8046],
}

# Top-2 cross-sentiment share on WikiArt (no labels needed): baseline -> proposed, without and
# with filtering by the top-1 confidence.
_TOP2_CROSS_SENTIMENT = {
    "filtering": ["none", "none", "confidence", "confidence"],
    "network": ["baseline", "proposed", "baseline", "proposed"],
    "share": [0.414, 0.194, 0.435, 0.199],
}


def thesis_table() -> pd.DataFrame:
    """network, modules (0 = baseline, NaN for Zhang et al.), mean, sd, n (fractions)."""
    return pd.DataFrame(_THESIS_TABLE)


def cross_dataset_table() -> pd.DataFrame:
    """dataset, network ("baseline" / "proposed"), accuracy and majority_rate (fractions; the
    majority rate is NaN where the dataset's class counts are not published)."""
    return pd.DataFrame(_CROSS_DATASET)


def dissertation_table() -> pd.DataFrame:
    """dataset, network, accuracy (fractions) of the dissertation's EfficientNetV2S study."""
    return pd.DataFrame(_DISSERTATION)


def top2_cross_sentiment_table() -> pd.DataFrame:
    """filtering, network, share (fractions) of the top-2 cross-sentiment metric on WikiArt."""
    return pd.DataFrame(_TOP2_CROSS_SENTIMENT)


def cross_dataset_view() -> pd.DataFrame:
    """The cross-dataset table as the thesis prints it: per dataset both accuracies and the
    gain in percentage points, beside the majority rate in percent (NaN where unpublished)."""
    table = cross_dataset_table()
    wide = table.pivot(index="dataset", columns="network", values="accuracy") * 100
    wide = wide.loc[list(dict.fromkeys(_CROSS_DATASET["dataset"]))]
    wide["gain (pp)"] = wide["proposed"] - wide["baseline"]
    wide["majority rate"] = table.groupby("dataset")["majority_rate"].first() * 100
    return wide
