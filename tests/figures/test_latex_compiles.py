"""Every LaTeX table the workbench writes compiles with pdflatex and booktabs.

The tables are made by the same calls as notebooks 05 and 06 (and so `make demo`), for the
published table, a comparison study with its tap and activation ablations, and a study with the
contrastive-center loss, whose network names carry a λ. Notebook 05 itself is executed on such
a results folder and every table it wrote is compiled.

pdflatex comes from Debian's texlive-latex-recommended (CI installs it). Where it is missing the
tests are skipped, unless THESIS_REQUIRE_LATEX is set (CI sets it), when they fail instead.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from run_records import accuracies_with, write_run

from thesis_lib import analysis as stats
from thesis_lib import figures as fg
from thesis_lib.analysis import published, results

# pdflatex on every table: in the full tier (CI installs pdflatex and requires it).
pytestmark = pytest.mark.slow

PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{booktabs}
\begin{document}
"""
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pdflatex() -> str:
    path = shutil.which("pdflatex")
    if path is None:
        if os.environ.get("THESIS_REQUIRE_LATEX"):
            pytest.fail("pdflatex is missing (apt-get install texlive-latex-recommended)")
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-recommended)")
    return path


def compile_tables(pdflatex: str, tables: dict[str, str], folder: Path) -> None:
    """Compile one document that inputs every table; fail with pdflatex's error lines."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, latex in tables.items():
        (folder / f"{name}.tex").write_text(latex, encoding="utf-8")
    body = "".join(f"\\input{{{name}}}\n\\clearpage\n" for name in tables)
    (folder / "document.tex").write_text(PREAMBLE + body + "\\end{document}\n",
                                         encoding="utf-8")
    done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error",
                           "document.tex"], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    errors = [line for line in done.stdout.splitlines() if line.startswith("!")]
    assert done.returncode == 0, f"pdflatex failed: {errors or done.stdout[-2000:]}"
    assert (folder / "document.pdf").stat().st_size > 0


def write_loss_study(folder: Path) -> None:
    """A results folder with the baseline, 4 Gram modules, 4 Gram modules + the
    contrastive-center loss and two ablations, three seeds each (names with λ, taps, gelu)."""
    networks = {
        "base": dict(variant="baseline", modules=0, mean=0.8131),
        "gram4": dict(modules=4, mean=0.8252),
        "gram4cc": dict(modules=4, contrastive_center_weight=0.1, mean=0.8374),
        "taps": dict(modules=4, taps=["block1b_add", "block2c_add", "block3c_add",
                                      "block4d_add"], mean=0.8200),
        "gelu": dict(modules=4, activation="gelu", mean=0.8260),
    }
    for label, spec in networks.items():
        spec = {"contrastive_center_weight": 0.0, **spec}
        mean = spec.pop("mean")
        for seed, accuracy in enumerate(accuracies_with(mean, 0.002, n=3)):
            write_run(folder, f"{label}-s{seed}", seed=seed, accuracy=float(accuracy), **spec)


def notebook_tables(runs: pd.DataFrame) -> dict[str, str]:
    """The tables notebooks 05 and 06 write, by the same calls."""
    own_test = runs[runs["dataset"] == results.OWN_TEST_SPLIT]
    comparisons = stats.compare_variants(own_test)
    retest = stats.compare_summary_table(published.thesis_table(),
                                         baseline=published.THESIS_BASELINE)
    return {
        "published_results": fg.results_table(
            published.thesis_table(), sd="sd", caption="Binary sadness on WEBEmo, as "
            "published: mean overall accuracy and SD of 5 trials.", label="tab:published"),
        "thesis_table_retest": fg.significance_table(
            retest, caption="The thesis table re-tested (Welch t-test, sample SDs; "
            "Holm-adjusted p).", label="tab:retest"),
        "results_all": fg.results_table(results.summarize(own_test), caption="Test accuracy "
                                        "per network: mean and sample SD (ddof = 1) over n runs.",
                                        label="tab:results"),
        "metrics_all": fg.metrics_table(results.summarize_metrics(own_test),
                                        caption="Test metrics: mean $\\pm$ sample SD.",
                                        label="tab:metrics"),
        "significance_all": fg.significance_table(
            comparisons, caption="Each network against its reference (Welch; λ as trained).",
            label="tab:significance"),
        "significance_bare": fg.significance_table(comparisons, test="paired"),
        "results_bare": fg.results_table(results.summarize(own_test)),
    }


def test_the_tables_of_a_study_with_the_contrastive_center_loss_compile(pdflatex, tmp_path):
    write_loss_study(tmp_path / "results")
    runs = results.collect_runs(tmp_path / "results")
    tables = notebook_tables(runs)
    assert "$\\lambda$=0.1" in tables["significance_all"]
    assert "λ" not in "".join(tables.values())
    compile_tables(pdflatex, tables, tmp_path / "latex")


def test_names_with_every_special_character_compile(pdflatex, tmp_path):
    summary = pd.DataFrame({"network": ["not_sad & 5 % #1 {x} ~ ^ \\ λ ± ≤ → –"],
                            "mean": [0.8], "sd_ddof1": [0.01], "n": [3]})
    compile_tables(pdflatex, {"odd": fg.results_table(summary, caption="Odd names: λ ± ≤",
                                                      label="tab:odd")}, tmp_path)


def test_every_table_notebook_05_writes_compiles(pdflatex, tmp_path):
    results_dir = tmp_path / "results"
    write_loss_study(results_dir)
    executed = tmp_path / "05.ipynb"
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(PROJECT / "notebooks" / "05_significance.ipynb"),
         str(executed), "-p", "results_dir", str(results_dir), "-p", "study", "None",
         "--cwd", str(PROJECT / "notebooks"), "--no-progress-bar"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    written = sorted((results_dir / "tables").glob("*.tex"))
    assert {path.stem for path in written} >= {"thesis_table_retest", "significance_all"}
    compile_tables(pdflatex, {path.stem: path.read_text(encoding="utf-8") for path in written},
                   tmp_path / "latex")
