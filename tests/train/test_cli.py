"""`thesis train`, `thesis evaluate`, `thesis grid`: options and one-line errors."""

from thesis_lib.cli import main


def test_train_reports_bad_configuration_in_one_line(capsys):
    assert main(["train", "-f", "smoke", "--variant", "gramm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("thesis train: error: unknown variant 'gramm'; valid: baseline, gram, "
                   "gramnet, pairwise")


def test_train_set_names_unknown_fields(capsys):
    assert main(["train", "-f", "smoke", "--set", "epochz=3"]) == 2
    assert "unknown configuration field(s): epochz" in capsys.readouterr().err


def test_evaluate_refuses_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), str(tmp_path), "--name", "x"]) == 2
    assert "is not a finished run" in capsys.readouterr().err


def test_grid_status_lists_every_cell_without_running(tmp_path, capsys):
    grid_file = tmp_path / "g.yaml"
    grid_file.write_text(f"profile: smoke\nfixed: {{results_dir: {tmp_path}}}\n"
                         "grid:\n  modules: [0, 2]\n  seed: [0, 1]\n")
    assert main(["grid", str(grid_file), "--status"]) == 0
    out = capsys.readouterr().out
    assert out.count("pending") == 4 and "modules=2,seed=1" in out
    assert not (tmp_path / "runs").exists()
