"""Publication figures and LaTeX tables of the thesis (``docs/figures.md`` lists them).

Every function takes tidy pandas tables or arrays (``analysis.results``, ``run_tables``) and
returns a matplotlib Figure or LaTeX text, which ``save_figure`` and ``save_table`` write under
``<results_dir>/figures/`` and ``<results_dir>/tables/``.
"""

from thesis_lib.figures.accuracy import (
    plot_accuracy_by_variant,
    plot_accuracy_vs_modules,
    plot_cross_dataset,
)
from thesis_lib.figures.confusion import plot_confusion_matrix
from thesis_lib.figures.curves import plot_learning_curves
from thesis_lib.figures.embedding import plot_embedding_map
from thesis_lib.figures.per_class import plot_per_class_metric
from thesis_lib.figures.roc_pr import curve_summary, plot_roc_pr_by_class, plot_roc_pr_curves
from thesis_lib.figures.save import save_figure, save_table
from thesis_lib.figures.style import (
    DOUBLE_COLUMN,
    SINGLE_COLUMN,
    add_note,
    figure_size,
    palette,
    publication_style,
)
from thesis_lib.figures.tables import metrics_table, results_table, significance_table

_SALIENCY = ("feature_maps", "gram_matrices", "grad_cam", "plot_gram_heatmaps", "plot_grad_cam")


def __getattr__(name: str):
    # Keras/TensorFlow load only when a saliency function is first used, so the tables and
    # plots of run records stay quick to import.
    if name in _SALIENCY:
        from thesis_lib.figures import saliency

        return getattr(saliency, name)
    raise AttributeError(f"module 'thesis_lib.figures' has no attribute {name!r}")


__all__ = [
    "DOUBLE_COLUMN", "SINGLE_COLUMN", "add_note", "curve_summary", "figure_size", "palette",
    "plot_accuracy_by_variant", "plot_accuracy_vs_modules", "plot_confusion_matrix",
    "plot_cross_dataset", "plot_learning_curves", "plot_per_class_metric",
    "plot_roc_pr_by_class", "plot_roc_pr_curves", "publication_style", "metrics_table",
    "plot_embedding_map", "results_table", "save_figure", "save_table", "significance_table",
    *_SALIENCY,
]
