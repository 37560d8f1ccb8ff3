"""Significance tests for comparing networks, from run records and from published tables:
``hypothesis_tests`` (on numbers), ``comparisons`` (on run records) and ``statements`` (as text).
Everything public of the three is importable from ``thesis_lib.analysis`` itself.
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
