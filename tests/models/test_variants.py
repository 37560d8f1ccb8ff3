"""The one declaration of the model variants: contents, users, and no Keras import."""

import subprocess
import sys

import pytest

from thesis_lib.errors import ConfigError
from thesis_lib.models import backbones, builders, summary, variants


def test_variants_and_their_dropouts():
    assert variants.VARIANTS == ("baseline", "gram", "gramnet", "pairwise")
    assert set(variants.DEFAULT_DROPOUT) == set(variants.VARIANTS)
    assert variants.DEFAULT_DROPOUT["gramnet"] == 0.5
    assert variants.DEFAULT_DROPOUT["pairwise"] == variants.DEFAULT_DROPOUT["gram"] == 0.2


def test_builders_and_summary_use_the_one_declaration():
    assert builders.VARIANTS is variants.VARIANTS
    assert builders.DEFAULT_DROPOUT is variants.DEFAULT_DROPOUT
    assert summary.VARIANTS is variants.VARIANTS


def test_check_variant_lists_every_variant():
    assert variants.check_variant("pairwise") == "pairwise"
    with pytest.raises(ConfigError, match="valid: baseline, gram, gramnet, pairwise$"):
        variants.check_variant("pairs")


def test_consecutive_pairs():
    assert variants.consecutive_pairs(["a", "b", "c", "d"]) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert variants.consecutive_pairs(["a"]) == []


def test_default_pairs_follow_the_default_tap_table():
    assert variants.MAX_DEFAULT_PAIRS == backbones.MAX_DEFAULT_MODULES - 1


def test_pairwise_arguments_are_checked_without_a_backbone():
    assert variants.check_pairwise_arguments(3, None, None) is None
    pairs = variants.check_pairwise_arguments(4, None, [["a", "b"], ("b", "c")])
    assert pairs == [("a", "b"), ("b", "c")]  # YAML lists become tuples
    with pytest.raises(ConfigError, match="go up to 5 modules"):
        variants.check_pairwise_arguments(6, None, None)


def test_importing_the_variants_loads_no_keras():
    script = (
        "import sys; import thesis_lib.models.variants as v; "
        "from thesis_lib.errors import ConfigError\n"
        "try:\n    v.check_pairwise_arguments(1, None, [('a', 'a')])\n"
        "except ConfigError as error:\n    assert 'itself' in str(error)\n"
        "else:\n    raise SystemExit('a self-pair was accepted')\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
