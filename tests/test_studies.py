"""The thesis' studies: their settings, and which runs belong to each."""

import pandas as pd
import pytest
from test_results import write_run

from thesis_lib.analysis import results
from thesis_lib.errors import ConfigError, DataError
from thesis_lib.experiments import studies
from thesis_lib.models.backbones import DEFAULT_TAPS


def test_comparison_study_is_the_thesis_table():
    study = studies.comparison_study(seeds=[0, 1, 2, 3, 4])
    assert list(study.settings) == ["baseline", "gram-2", "gram-3", "gram-4", "gramnet"]
    assert study.settings["baseline"] == {"variant": "baseline", "modules": 0}
    assert study.settings["gram-3"] == {"variant": "gram", "modules": 3}
    assert study.seeds == [0, 1, 2, 3, 4]


def test_tap_study_taps_shallow_and_deep_stages_and_shares_the_default_run():
    study = studies.tap_study([0, 1], backbone="EfficientNetV2B2")
    assert study.settings["taps-shallow"]["taps"] == ["block1b_add", "block2c_add", "block3c_add"]
    assert study.settings["taps-deep"]["taps"] == ["block4d_add", "block5f_add", "block6j_add"]
    # Mixed = the default three taps, left unset so the run id equals gram-3's.
    assert DEFAULT_TAPS["EfficientNetV2B2"][3] == ("block2c_add", "block4d_add", "block6j_add")
    assert study.settings["taps-mixed"] == {"variant": "gram", "modules": 3}


def test_activation_study_leaves_the_default_activation_unset():
    study = studies.activation_study([0], activations=["relu", "gelu"])
    assert study.settings == {
        "activation-relu": {"variant": "gram", "modules": 3},
        "activation-gelu": {"variant": "gram", "modules": 3, "activation": "gelu"},
    }


def test_unknown_study_and_empty_seeds_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown study 'tapz'; valid: comparison, taps"):
        studies.make_study("tapz", [0], backbone="EfficientNetV2B0")
    with pytest.raises(ConfigError, match="at least one seed"):
        studies.comparison_study(seeds=[])


def test_a_study_holds_exactly_its_listed_runs_even_when_shared(tmp_path):
    write_run(tmp_path, "base-s0", variant="baseline", modules=0, seed=0, accuracy=0.80)
    write_run(tmp_path, "base-s1", variant="baseline", modules=0, seed=1, accuracy=0.82)
    write_run(tmp_path, "gram3-s0", modules=3, seed=0, accuracy=0.84)
    write_run(tmp_path, "gram3-s1", modules=3, seed=1, accuracy=0.86)
    write_run(tmp_path, "shallow-s0", modules=3, seed=0, accuracy=0.70,
              taps=["block1b_add", "block2c_add", "block3c_add"])
    for study, cells in {
        "comparison": [("baseline", "base-s0"), ("baseline", "base-s1"),
                       ("gram-3", "gram3-s0"), ("gram-3", "gram3-s1")],
        "taps": [("taps-mixed", "gram3-s0"), ("taps-mixed", "gram3-s1"),
                 ("taps-shallow", "shallow-s0")],
    }.items():
        folder = results.study_dir(tmp_path, study)
        folder.mkdir(parents=True)
        pd.DataFrame(cells, columns=["setting", "run_id"]).to_csv(folder / "cells.csv",
                                                                  index=False)

    comparison = results.collect_runs(tmp_path, study="comparison")
    assert sorted(comparison["run_id"]) == ["base-s0", "base-s1", "gram3-s0", "gram3-s1"]
    taps = studies.study_runs("taps", tmp_path)
    assert sorted(zip(taps["setting"], taps["run_id"], strict=True)) == [
        ("taps-mixed", "gram3-s0"), ("taps-mixed", "gram3-s1"), ("taps-shallow", "shallow-s0")]

    summary = studies.summarize_study(taps)
    mixed = summary[summary["setting"] == "taps-mixed"].iloc[0]
    assert mixed["mean"] == pytest.approx(0.85)
    assert mixed["sd_ddof1"] == pytest.approx(pd.Series([0.84, 0.86]).std(ddof=1))
    assert mixed["n"] == 2
    view = studies.setting_table(summary)
    assert view.set_index("setting").loc["taps-mixed", "accuracy (%)"] == pytest.approx(85.0)

    path = studies.write_study_summary("comparison", tmp_path)
    assert path == tmp_path / "studies" / "comparison" / "summary.csv"
    assert set(pd.read_csv(path)["setting"]) == {"baseline", "gram-3"}


def test_a_study_that_was_not_run_says_so(tmp_path):
    with pytest.raises(DataError, match="the study 'taps' has not been run"):
        results.collect_runs(tmp_path, study="taps")


def test_plan_studies_takes_the_profiles_scale_where_a_parameter_is_none():
    scale = studies.study_scale("smoke")
    base, chosen = studies.plan_studies("smoke")
    assert base.backbone == "EfficientNetV2B0"
    assert [study.name for study in chosen] == list(scale.studies)
    assert all(study.seeds == list(scale.seeds) for study in chosen)
    comparison = chosen[0]
    assert set(comparison.settings) == {"baseline"} | {f"gram-{m}"
                                                      for m in scale.comparison_modules}


def test_plan_studies_uses_each_given_parameter():
    _, [comparison] = studies.plan_studies("smoke", ["comparison"], seeds=[7, 8],
                                           comparison_modules=[3], gramnet=False)
    assert comparison.seeds == [7, 8]
    assert comparison.settings == {"baseline": {"variant": "baseline", "modules": 0},
                                   "gram-3": {"variant": "gram", "modules": 3}}
    _, [loss] = studies.plan_studies("smoke", ["loss"], loss_study_weight=0.3)
    weights = {label: fields["contrastive_center_weight"]
               for label, fields in loss.settings.items()}
    assert weights == {"baseline": 0.0, "baseline+ctc": 0.3, "gram-2": 0.0, "gram-2+ctc": 0.3}
    _, [loss] = studies.plan_studies("smoke", ["loss"])  # the default weight
    assert loss.settings["gram-2+ctc"]["contrastive_center_weight"] == \
        studies.DEFAULT_CONTRASTIVE_CENTER_WEIGHT
    with pytest.raises(ConfigError, match="unknown study 'tapz'"):
        studies.plan_studies("smoke", ["tapz"])
