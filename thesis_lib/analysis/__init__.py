"""Significance tests for comparing networks: from run records and from published tables.

Three modules, by purpose:

- ``hypothesis_tests``: the tests and intervals on numbers (Welch, pooled and paired t-tests
  with the CI of the difference, Hedges' g, Holm, ANOVA and Kruskal-Wallis, exact McNemar, the
  bootstrap CI of an accuracy, seeds for a target power);
- ``comparisons``: the same on run records: every setting against the baseline trained like it,
  the module-count family, McNemar on two runs' predictions, the re-test of a published table;
- ``statements``: comparison tables as text (differences and CIs in percentage points).

Everything public is importable from ``thesis_lib.analysis`` itself.
"""

from thesis_lib.analysis.comparisons import (
    COMPARISON_COLUMNS,
    compare_module_counts,
    compare_summary_table,
    compare_variants,
    mcnemar_runs,
    module_count_family,
    paired_run_test,
    published_interval_readings,
)
from thesis_lib.analysis.hypothesis_tests import (
    MAX_SEEDS,
    PAIRED,
    POOLED,
    WELCH,
    AnovaResult,
    BootstrapResult,
    ComparisonResult,
    GroupTestResult,
    McNemarResult,
    ProportionInterval,
    accuracy_interval,
    anova_from_summary,
    bootstrap_accuracy,
    ci_label,
    compare_from_summary,
    compare_groups,
    compare_samples,
    hedges_g,
    holm,
    mcnemar_exact,
    proportion_interval,
    seeds_for_power,
)
from thesis_lib.analysis.statements import (
    holm_family_text,
    outcome_sentence,
    significance_view,
    table_confidence,
)

__all__ = [
    "COMPARISON_COLUMNS", "MAX_SEEDS", "PAIRED", "POOLED", "WELCH", "AnovaResult",
    "BootstrapResult", "ComparisonResult", "GroupTestResult", "McNemarResult",
    "anova_from_summary", "bootstrap_accuracy", "compare_from_summary", "compare_groups",
    "compare_module_counts", "compare_samples", "compare_summary_table", "compare_variants",
    "hedges_g", "holm", "mcnemar_exact", "mcnemar_runs", "module_count_family",
    "paired_run_test", "published_interval_readings", "seeds_for_power", "significance_view",
    "holm_family_text", "outcome_sentence", "table_confidence", "ProportionInterval",
    "accuracy_interval", "ci_label", "proportion_interval",
]
