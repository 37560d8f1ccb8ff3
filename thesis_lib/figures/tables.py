"""LaTeX (booktabs) tables of the thesis, made by pandas' ``Styler.to_latex``: a ``tabular``,
or a ``table`` float when a caption is given. Free text is escaped and symbols such as λ, ±, ≤
are written as LaTeX math, so that the tables compile with pdflatex.
"""

from __future__ import annotations

import pandas as pd

from thesis_lib.analysis.hypothesis_tests import ci_label
from thesis_lib.analysis.results import metrics_view
from thesis_lib.analysis.statements import table_confidence
from thesis_lib.figures.checks import require_columns

MISSING = "--"
# Tables with more columns than this are set in \small with narrower column gaps.
WIDE_TABLE_COLUMNS = 5

# LaTeX's special characters, escaped in free text.
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}
# Symbols that names and captions use and that pdflatex cannot set from UTF-8 alone.
_LATEX_SYMBOLS = {
    "λ": r"$\lambda$", "α": r"$\alpha$", "β": r"$\beta$", "γ": r"$\gamma$", "δ": r"$\delta$",
    "μ": r"$\mu$", "σ": r"$\sigma$", "Δ": r"$\Delta$", "±": r"$\pm$", "×": r"$\times$",
    "≤": r"$\leq$", "≥": r"$\geq$", "→": r"$\rightarrow$", "−": r"$-$", "–": "--",
    "—": "---", "…": r"\ldots{}",
}


def latex_symbols(text: str) -> str:
    """``text`` with the symbols pdflatex cannot set written as LaTeX (LaTeX in it is kept)."""
    return "".join(_LATEX_SYMBOLS.get(char, char) for char in str(text))


def latex_text(text: str) -> str:
    """Free text (a network's name) as LaTeX: special characters escaped, symbols as math."""
    return latex_symbols("".join(_LATEX_SPECIAL.get(char, char) for char in str(text)))


def _number(value, decimals: int, scale: float = 1.0, signed: bool = False) -> str:
    """A number as LaTeX text: NaN -> '--', a true minus sign in math mode."""
    if pd.isna(value):
        return MISSING
    text = f"{abs(value) * scale:.{decimals}f}"
    if value < 0 and float(text) != 0:
        return f"$-${text}"
    return f"$+${text}" if signed and float(text) != 0 else text


def _p_value(value, decimals: int = 3) -> str:
    if pd.isna(value):
        return MISSING
    smallest = 10.0**-decimals
    return f"$<${smallest:.{decimals}f}" if value < smallest else f"{value:.{decimals}f}"


def _to_latex(
    table: pd.DataFrame,
    *,
    text_columns: list[str],
    caption: str | None,
    label: str | None,
    note: str = "",
) -> str:
    if caption is not None and note:
        caption = f"{note} {caption}"
    column_format = "".join("l" if column in text_columns else "r" for column in table.columns)
    styler = (
        table.style.hide(axis="index")
        .format(latex_text, subset=text_columns)
        .format_index(latex_text, axis=1)
    )
    options = {"hrules": True, "column_format": column_format}
    if caption is not None:
        options.update(caption=latex_symbols(caption), position_float="centering",
                       environment="table")
        if label is not None:
            options["label"] = label
    latex = styler.to_latex(**options)
    if caption is not None and len(table.columns) > WIDE_TABLE_COLUMNS:
        # A wide table (the significance table has up to ten columns) fits a thesis page in a
        # smaller font with narrower gaps; both stay inside the float.
        latex = latex.replace("\\centering\n", "\\centering\n\\small\n"
                              "\\setlength{\\tabcolsep}{4pt}\n", 1)
    return latex


def results_table(
    summary: pd.DataFrame,
    *,
    network: str = "network",
    mean: str = "mean",
    sd: str = "sd_ddof1",
    n: str = "n",
    decimals: int = 3,
    caption: str | None = None,
    label: str | None = None,
    note: str = "",
) -> str:
    """The results table: network, mean accuracy (%), sample SD (ddof = 1, in %), n.

    Args:
        summary: one row per network, e.g. ``analysis.results.summarize(runs)`` filtered to
            one evaluation dataset; accuracies as fractions.
        network, mean, sd, n: the columns holding name, mean, sample SD and number of runs.
        decimals: decimals of mean and SD (the thesis reports 3).
        caption, label: when a caption is given, a ``table`` float with this caption/label.
        note: a sentence put before the caption, e.g. ``analysis.results.scale_note(runs)``.
    """
    require_columns(summary, [network, mean, sd, n], "results table")
    table = pd.DataFrame(
        {
            "Network": summary[network].astype(str).to_numpy(),
            "Accuracy (%)": [_number(value, decimals, 100) for value in summary[mean]],
            "Sample SD (%)": [_number(value, decimals, 100) for value in summary[sd]],
            "n": summary[n].astype(int).astype(str).to_numpy(),
        }
    )
    return _to_latex(table, text_columns=["Network"], caption=caption, label=label, note=note)


def metrics_table(
    summary: pd.DataFrame,
    *,
    dataset: str | None = "test",
    decimals: int = 2,
    caption: str | None = None,
    label: str | None = None,
    note: str = "",
) -> str:
    """The headline metrics per network, mean ± sample SD in percent, and n: accuracy,
    balanced accuracy and macro F1 (and, for K classes, top-2 accuracy, macro ROC AUC and the
    top-2 cross-sentiment share), from ``thesis_lib.analysis.results.summarize_metrics``.

    Args:
        summary: the long summary (one row per setting and metric).
        dataset: the evaluation dataset to show.
        decimals: decimals of means and SDs.
        caption, label, note: as in :func:`results_table`.
    """
    require_columns(summary, ["network", "metric", "mean", "sd_ddof1", "n"], "metrics table")
    view = metrics_view(summary, dataset=dataset, decimals=decimals)
    view = view.rename(columns={"network": "Network"})
    # Numbers are not escaped (only the Network column and the headers are): write LaTeX.
    view = view.map(lambda text: text.replace(" ± ", " $\\pm$ ") if isinstance(text, str)
                    else text)
    view["n"] = view["n"].astype(int).astype(str)
    return _to_latex(view, text_columns=["Network"], caption=caption, label=label, note=note)


def significance_table(
    comparisons: pd.DataFrame,
    *,
    test: str = "welch",
    network: str = "network",
    diff: str = "diff",
    p_holm: str | None = None,
    decimals: int = 2,
    confidence: float | None = None,
    caption: str | None = None,
    label: str | None = None,
    note: str = "",
) -> str:
    """The significance table: each network against its reference (difference in percentage
    points, its CI, t, df, p, Holm p; the paired p and design when runs pair by seed).

    Args:
        comparisons: ``thesis_lib.analysis.compare_variants(...)``: columns ``network``, ``diff``
            and ``<test>_ci_low``, ``<test>_ci_high``, ``<test>_t``, ``<test>_df``,
            ``<test>_p``; accuracies as fractions.
        test: ``"welch"``, ``"pooled"`` or ``"paired"``: which t-test's columns to show.
        network, diff: columns with the network name and the difference of means.
        p_holm: column of Holm-adjusted p-values; default ``<test>_p_holm``.
        decimals: decimals of the difference, CI bounds and t.
        confidence: level of the interval, for the column header; by default the level the
            comparisons were computed at (their ``confidence`` column), checked when given.
        caption, label, note: as in :func:`results_table`.
    """
    p_holm = p_holm or f"{test}_p_holm"
    columns = [f"{test}_{name}" for name in ("ci_low", "ci_high", "t", "df", "p")]
    require_columns(comparisons, [network, diff, *columns, p_holm], "significance table")
    confidence = table_confidence(comparisons, confidence)
    rows = comparisons
    table = pd.DataFrame({"Network": rows[network].astype(str).to_numpy()})
    text_columns = ["Network"]
    if "reference" in rows.columns and rows["reference"].nunique(dropna=False) > 1:
        table["Reference"] = rows["reference"].fillna(MISSING).astype(str).to_numpy()
        text_columns.append("Reference")
    table["Diff. (pp)"] = [_number(value, decimals, 100, signed=True) for value in rows[diff]]
    table[f"{ci_label(confidence)} (pp)"] = [
        MISSING
        if pd.isna(low)
        else f"[{_number(low, decimals, 100)}, {_number(high, decimals, 100)}]"
        for low, high in zip(
            rows[f"{test}_ci_low"].astype(float),
            rows[f"{test}_ci_high"].astype(float),
            strict=True,
        )
    ]
    table["t"] = [_number(value, decimals) for value in rows[f"{test}_t"].astype(float)]
    table["df"] = [_number(value, 1) for value in rows[f"{test}_df"].astype(float)]
    table["p"] = [_p_value(value) for value in rows[f"{test}_p"].astype(float)]
    # The size of the Holm family: in the caption of a float, else in the column's header.
    family = sorted({int(m) for m in rows["holm_m"].dropna()}) if "holm_m" in rows else []
    holm_header = "Holm p"
    if len(family) == 1 and caption is not None:
        plural = "" if family[0] == 1 else "s"
        caption = f"{caption.rstrip()} Holm's correction over {family[0]} comparison{plural}."
    elif len(family) == 1:
        holm_header = f"Holm p (m = {family[0]})"
    table[holm_header] = [_p_value(value) for value in rows[p_holm].astype(float)]
    paired = (test != "paired" and "paired_p" in rows.columns
              and rows["paired_p"].astype(float).notna().any())
    if paired:
        table["Paired p"] = [_p_value(value) for value in rows["paired_p"].astype(float)]
    if "design" in rows.columns and rows["design"].notna().any():
        table["Design"] = [_short_design(text) for text in rows["design"]]
        text_columns.append("Design")
    if test == "welch" and "outcome" in rows.columns:
        table["Outcome"] = rows["outcome"].fillna(MISSING).astype(str).to_numpy()
        text_columns.append("Outcome")
    return _to_latex(table, text_columns=text_columns, caption=caption, label=label, note=note)


def _short_design(design) -> str:
    """``"paired by seed"`` -> ``"paired"``, ``"partly paired (2 seeds shared)"`` -> ``"2
    seeds paired"``, for a narrow column."""
    if not isinstance(design, str):
        return MISSING
    if design.startswith("partly paired"):
        return design.removeprefix("partly paired (").removesuffix(" shared)") + " paired"
    return design.removesuffix(" by seed")
