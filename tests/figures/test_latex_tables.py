"""LaTeX tables: booktabs layout, escaping, and numbers equal to numpy/scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from thesis_lib.analysis import compare_variants
from thesis_lib.analysis.results import summarize, with_settings
from thesis_lib.errors import ConfigError, DataError
from thesis_lib.figures import results_table, save_table, significance_table


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for variant, modules, mean in (("baseline", 0, 0.81368), ("gram", 2, 0.81772),
                                   ("gram", 4, 0.81826)):
        for seed in range(5):
            rows.append({"run_id": f"{variant}{modules}-{seed}", "variant": variant,
                         "modules": modules, "backbone": "EfficientNetV2B2", "seed": seed,
                         "dataset": "test", "accuracy": mean + 0.0015 * rng.standard_normal()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def comparisons(runs) -> pd.DataFrame:
    return compare_variants(runs)


def body_rows(latex: str) -> list[list[str]]:
    body = latex.split("\\midrule\n")[1].split("\\bottomrule")[0]
    return [[cell.strip() for cell in line.removesuffix("\\\\").split("&")]
            for line in body.strip().splitlines()]


def test_results_table_is_booktabs_with_percent_mean_sample_sd_and_n(runs, tmp_path):
    latex = results_table(summarize(with_settings(runs)))
    assert latex.startswith("\\begin{tabular}{lrrr}\n\\toprule\n")
    assert "Network & Accuracy (\\%) & Sample SD (\\%) & n \\\\" in latex
    assert latex.rstrip().endswith("\\bottomrule\n\\end{tabular}")
    first = runs[runs.variant == "baseline"]["accuracy"].to_numpy()
    assert body_rows(latex)[0] == ["baseline EfficientNetV2B2", f"{first.mean() * 100:.3f}",
                                   f"{first.std(ddof=1) * 100:.3f}", "5"]
    assert [row[0] for row in body_rows(latex)] == ["baseline EfficientNetV2B2",
                                                    "B2 + 2 Gram modules", "B2 + 4 Gram modules"]
    assert save_table(latex, "results", tmp_path).read_text() == latex


def test_names_are_escaped_and_a_caption_makes_a_table_float():
    summary = pd.DataFrame({"network": ["not_sadness & 5%"], "mean": [0.5], "sd_ddof1": [0.01],
                            "n": [3]})
    latex = results_table(summary, caption="Accuracy on WEBEmo", label="tab:results")
    assert "not\\_sadness \\& 5\\% & 50.000 & 1.000 & 3 \\\\" in latex
    assert latex.startswith("\\begin{table}\n\\centering\n\\caption{Accuracy on WEBEmo}\n"
                            "\\label{tab:results}\n")



def test_a_note_opens_the_caption_of_every_table(runs, comparisons):
    note = "Demo numbers (generated data), not thesis results."
    summary = summarize(runs)
    latexes = [results_table(summary, caption="Accuracy.", note=note),
               significance_table(comparisons, caption="Tests.", note=note)]
    for latex in latexes:
        assert f"\\caption{{{note} " in latex
    assert note not in results_table(summary, note=note)  # no caption: a bare tabular
    assert results_table(summary, caption="Accuracy.", note="") == results_table(
        summary, caption="Accuracy.")


def test_single_run_has_no_sd_and_shows_a_dash():
    summary = pd.DataFrame({"network": ["baseline"], "mean": [0.8], "sd_ddof1": [np.nan],
                            "n": [1]})
    assert body_rows(results_table(summary))[0] == ["baseline", "80.000", "--", "1"]


def test_significance_table_shows_welch_test_equal_to_scipy(runs, comparisons):
    latex = significance_table(comparisons)
    assert ("Network & Diff. (pp) & 95 \\% CI (pp) & t & df & p & Holm p (m = 2) & Paired p & "
            "Design & Outcome \\\\") in latex
    captioned = significance_table(comparisons, caption="Against the baseline.")
    assert "\\caption{Against the baseline. Holm's correction over 2 comparisons.}" in captioned
    assert "& Holm p & Paired p &" in captioned
    rows = body_rows(latex)
    gram = runs[(runs.variant == "gram") & (runs.modules == 2)]["accuracy"].to_numpy()
    base = runs[runs.variant == "baseline"]["accuracy"].to_numpy()
    welch = stats.ttest_ind(gram, base, equal_var=False)
    interval = welch.confidence_interval(0.95)
    network, diff, ci, t, df, p, _, paired, design, outcome = rows[0]
    assert paired == f"{stats.ttest_rel(gram, base).pvalue:.3f}"
    assert design == "paired" and outcome in ("better", "not significant")
    assert network == "B2 + 2 Gram modules"
    assert diff == f"$+${(gram.mean() - base.mean()) * 100:.2f}"
    assert ci == f"[{interval.low * 100:.2f}, {interval.high * 100:.2f}]"
    assert (t, df) == (f"{welch.statistic:.2f}", f"{welch.df:.1f}")
    assert p == ("$<$0.001" if welch.pvalue < 0.001 else f"{welch.pvalue:.3f}")


def test_significance_table_formats_negative_numbers_small_p_and_missing_tests():
    comparisons = pd.DataFrame({
        "network": ["worse", "single run"], "diff": [-0.0042, 0.001],
        "welch_ci_low": [-0.006, np.nan], "welch_ci_high": [-0.0024, np.nan],
        "welch_t": [-5.5, np.nan], "welch_df": [7.9, np.nan], "welch_p": [0.0004, np.nan],
        "welch_p_holm": [0.0008, np.nan],
    })
    rows = body_rows(significance_table(comparisons))
    assert rows[0] == ["worse", "$-$0.42", "[$-$0.60, $-$0.24]", "$-$5.50", "7.9",
                       "$<$0.001", "$<$0.001"]
    assert rows[1] == ["single run", "$+$0.10", "--", "--", "--", "--", "--"]


def test_significance_table_of_the_pooled_test_and_missing_columns(runs, comparisons):
    pooled = body_rows(significance_table(comparisons, test="pooled"))
    gram = runs[(runs.variant == "gram") & (runs.modules == 2)]["accuracy"]
    base = runs[runs.variant == "baseline"]["accuracy"]
    student = stats.ttest_ind(gram, base, equal_var=True)
    assert pooled[0][3:5] == [f"{student.statistic:.2f}", "8.0"]
    with pytest.raises(DataError, match="pooled_p_holm"):
        significance_table(comparisons.drop(columns="pooled_p_holm"), test="pooled")


def test_the_metrics_table_puts_balanced_accuracy_and_macro_f1_beside_accuracy(runs):
    from thesis_lib.analysis.results import metrics_view, summarize_metrics, with_settings
    from thesis_lib.figures.tables import metrics_table

    summary = summarize_metrics(with_settings(runs.assign(balanced_accuracy=runs["accuracy"] - 0.1,
                                                          macro_f1=runs["accuracy"] - 0.2)))
    view = metrics_view(summary)
    assert view.columns.tolist() == ["network", "n", "accuracy (%)", "balanced accuracy (%)",
                                     "macro F1 (%)"]
    first = runs[runs.variant == "baseline"]["accuracy"].to_numpy()
    assert view.iloc[0]["accuracy (%)"] == (f"{first.mean() * 100:.2f} ± "
                                            f"{first.std(ddof=1) * 100:.2f}")
    assert view.iloc[0]["balanced accuracy (%)"].startswith(f"{(first.mean() - 0.1) * 100:.2f}")
    latex = metrics_table(summary)
    assert "Network & n & accuracy (\\%) & balanced accuracy (\\%) & macro F1 (\\%)" in latex
    assert "$\\pm$" in latex


def test_headers_follow_the_confidence_the_intervals_were_computed_at(runs):
    comparisons = compare_variants(runs, alpha=0.01)
    latex = significance_table(comparisons)
    assert "99 \\% CI (pp)" in latex and "95 \\%" not in latex
    gram = runs[(runs.variant == "gram") & (runs.modules == 2)]["accuracy"].to_numpy()
    base = runs[runs.variant == "baseline"]["accuracy"].to_numpy()
    interval = stats.ttest_ind(gram, base, equal_var=False).confidence_interval(0.99)
    low, high = body_rows(latex)[0][2].replace("$-$", "-").strip("[]").split(", ")
    assert (float(low), float(high)) == pytest.approx(
        (interval.low * 100, interval.high * 100), abs=0.005)
    with pytest.raises(ConfigError, match="computed at 99% confidence, not 95%"):
        significance_table(comparisons, confidence=0.95)


def test_names_with_symbols_are_written_as_latex():
    from thesis_lib.figures.tables import latex_text

    assert latex_text("B0 + 4 Gram modules (contrastive-center λ=0.1)") == (
        "B0 + 4 Gram modules (contrastive-center $\\lambda$=0.1)")
    assert latex_text("not_sad & 5 % {x} #1 ± 2") == (
        "not\\_sad \\& 5 \\% \\{x\\} \\#1 $\\pm$ 2")
