"""Text views of comparison tables, for reading in a notebook or a terminal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from thesis_lib.errors import ConfigError


def _p_text(value: float) -> str:
    return f"{value:.4g}" if np.isfinite(value) else "-"


def significance_view(
    comparisons: pd.DataFrame,
    *,
    test: str = "welch",
    alpha: float = 0.05,
    power: float = 0.8,
    decimals: int = 3,
) -> pd.DataFrame:
    """A comparison table as text for reading: differences and CIs in percentage points.

    Args:
        comparisons: :func:`compare_variants` or :func:`compare_summary_table` output, metrics
            as fractions.
        test: ``"welch"``, ``"pooled"`` or ``"paired"``: whose t, df, p and CI to show.
        alpha, power: what the comparisons used (they name the CI and seed columns).
        decimals: decimals of differences and intervals (p-values get 4 significant digits).
    """
    if f"{test}_p" not in comparisons.columns:
        raise ConfigError(f"no {test!r} test in the comparison table; columns: "
                          f"{list(comparisons.columns)}")

    def points(value) -> str:
        return "-" if not np.isfinite(value) else f"{value * 100:+.{decimals}f}"

    view = pd.DataFrame({"network": comparisons["network"]})
    if "dataset" in comparisons.columns:
        view["dataset"] = comparisons["dataset"]
    view["diff (pp)"] = [points(value) for value in comparisons["diff"].astype(float)]
    view[f"{(1 - alpha) * 100:g} % CI (pp)"] = [
        "-" if not np.isfinite(low) else f"[{points(low)}, {points(high)}]"
        for low, high in zip(comparisons[f"{test}_ci_low"].astype(float),
                             comparisons[f"{test}_ci_high"].astype(float), strict=True)
    ]
    view["t"] = comparisons[f"{test}_t"].astype(float).round(3)
    view["df"] = comparisons[f"{test}_df"].astype(float).round(2)
    view["p"] = [_p_text(value) for value in comparisons[f"{test}_p"].astype(float)]
    view["Holm p"] = [_p_text(value) for value in comparisons[f"{test}_p_holm"].astype(float)]
    view["Hedges g"] = comparisons["hedges_g"].astype(float).round(2)
    view[f"seeds for {power:.0%} power"] = [
        f"{value:.0f}" if np.isfinite(value) else "-"
        for value in comparisons["seeds_for_power"].astype(float)
    ]
    if "note" in comparisons.columns and comparisons["note"].fillna("").astype(bool).any():
        view["note"] = comparisons["note"].fillna("")
    return view
