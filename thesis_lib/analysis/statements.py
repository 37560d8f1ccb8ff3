"""Text views of comparison tables, for reading in a notebook or a terminal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from thesis_lib.analysis.hypothesis_tests import ci_label
from thesis_lib.errors import ConfigError


def _text(value: float, spec: str) -> str:
    """``value`` formatted by ``spec``; "-" where it is not finite."""
    return format(value, spec) if np.isfinite(value) else "-"


def _family_sizes(comparisons: pd.DataFrame) -> list[int]:
    """The Holm family sizes of a comparison table (column ``holm_m``), sorted."""
    sizes = comparisons.get("holm_m", pd.Series(dtype=float)).dropna()
    return sorted({int(m) for m in sizes})


def table_confidence(comparisons: pd.DataFrame, confidence: float | None = None) -> float:
    """The confidence level of a comparison table's intervals: its ``confidence`` column, or
    ``confidence`` for tables without one; a :class:`ConfigError` where they disagree, or the
    table mixes levels."""
    if "confidence" in comparisons.columns and comparisons["confidence"].notna().any():
        levels = sorted(set(comparisons["confidence"].dropna().astype(float).round(10)))
        if len(levels) > 1:
            raise ConfigError(f"the comparison table mixes confidence levels {levels}")
        if confidence is not None and not np.isclose(confidence, levels[0]):
            raise ConfigError(f"the intervals were computed at {levels[0]:.0%} confidence, "
                              f"not {confidence:.0%}; compute them again with alpha = "
                              f"{1 - confidence:g}")
        return levels[0]
    return 0.95 if confidence is None else confidence


def holm_family_text(comparisons: pd.DataFrame) -> str:
    """``"Holm's correction over 4 comparisons"`` (per evaluation dataset when several)."""
    sizes = _family_sizes(comparisons)
    if not sizes:
        return "Holm's correction"
    counts = " or ".join(str(m) for m in sizes)
    plural = "" if sizes == [1] else "s"
    per = " per dataset" if "dataset" in comparisons.columns and \
        comparisons["dataset"].nunique() > 1 else ""
    return f"Holm's correction over {counts} comparison{plural}{per}"


def significance_view(
    comparisons: pd.DataFrame,
    *,
    test: str = "welch",
    alpha: float | None = None,
    power: float = 0.8,
    decimals: int = 3,
) -> pd.DataFrame:
    """A comparison table as text for reading: differences and CIs in percentage points, the
    reference of each row, the outcome (better / worse / not significant, by the sign of the
    difference and Holm's correction) and the design of the runs.

    Args:
        comparisons: :func:`compare_variants` or :func:`compare_summary_table` output, metrics
            as fractions.
        test: ``"welch"``, ``"pooled"`` or ``"paired"``: whose t, df, p and CI to show.
        alpha: the significance level the comparisons used; by default read from the table
            (its ``confidence`` column), and checked against it when given.
        power: what the comparisons used (it names the seed column).
        decimals: decimals of differences and intervals (p-values get 4 significant digits).
    """
    if f"{test}_p" not in comparisons.columns:
        raise ConfigError(f"no {test!r} test in the comparison table; columns: "
                          f"{list(comparisons.columns)}")
    confidence = table_confidence(comparisons, None if alpha is None else 1 - alpha)
    pp = f"+.{decimals}f"  # differences in percentage points, signed
    view = pd.DataFrame({"network": comparisons["network"]})
    if "dataset" in comparisons.columns:
        view["dataset"] = comparisons["dataset"]
    if "reference" in comparisons.columns:
        view["reference"] = comparisons["reference"].fillna("-")
    view["diff (pp)"] = [_text(value * 100, pp) for value in comparisons["diff"].astype(float)]
    view[f"{ci_label(confidence)} (pp)"] = [
        "-" if not np.isfinite(low) else f"[{_text(low * 100, pp)}, {_text(high * 100, pp)}]"
        for low, high in zip(comparisons[f"{test}_ci_low"].astype(float),
                             comparisons[f"{test}_ci_high"].astype(float), strict=True)
    ]
    view["t"] = comparisons[f"{test}_t"].astype(float).round(3)
    view["df"] = comparisons[f"{test}_df"].astype(float).round(2)
    view["p"] = [_text(value, ".4g") for value in comparisons[f"{test}_p"].astype(float)]
    family = _family_sizes(comparisons)
    holm = f"Holm p (m={family[0]})" if len(family) == 1 else "Holm p"
    view[holm] = [_text(value, ".4g") for value in comparisons[f"{test}_p_holm"].astype(float)]
    if test == "welch" and "outcome" in comparisons.columns:
        view["outcome"] = comparisons["outcome"].fillna("-")
    view["Hedges g"] = comparisons["hedges_g"].astype(float).round(2)
    view[f"seeds for {power:.0%} power"] = [
        _text(value, ".0f") for value in comparisons["seeds_for_power"].astype(float)]
    if "design" in comparisons.columns:
        view["design"] = comparisons["design"].fillna("-")
    if "note" in comparisons.columns and comparisons["note"].fillna("").astype(bool).any():
        view["note"] = comparisons["note"].fillna("")
    return view


def outcome_sentence(comparisons: pd.DataFrame, *, test_name: str = "Welch") -> str:
    """What a comparison table found, in words, after Holm's correction at the table's level.

    Example: ``"After Holm's correction over 3 comparisons (Welch, alpha = 0.05): better than
    the reference: B2 + 4 Gram modules; worse: none; not significant: 2."``
    """
    confidence = table_confidence(comparisons)

    def listing(outcome: str) -> str:
        rows = comparisons[comparisons["outcome"] == outcome]
        return "; ".join(f"{row.network} (vs {row.reference})" if "reference" in rows.columns
                         and isinstance(row.reference, str) else str(row.network)
                         for row in rows.itertuples()) or "none"

    untested = int((comparisons["outcome"] == "no test").sum())
    quiet = int((comparisons["outcome"] == "not significant").sum())
    text = (f"After {holm_family_text(comparisons)} ({test_name}, alpha = "
            f"{1 - confidence:.3g}): significantly better than the reference: "
            f"{listing('better')}; significantly worse: {listing('worse')}; "
            f"not significant: {quiet}")
    return text + (f"; not tested: {untested}." if untested else ".")
