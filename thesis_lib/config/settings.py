"""Settings: which runs are seeds of the same network trained the same way, their names, and
the baseline each is compared with (docs/statistics.md#settings and the section after it).

A setting is built from the baseline by up to three steps, and its reference undoes the
outermost one (:func:`find_reference`, rule ``"step"``):

- the loss: Gram-4 + contrastive-center loss -> Gram-4 with cross-entropy alone;
- a variation of the modules (taps, pairs, activation, dropout) -> the default Gram-N;
- the modules: Gram-N, GramNet, pairwise -> the baseline.

The rule ``"baseline"`` compares every setting with the plain baseline instead.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from thesis_lib.choices import get_backbone
from thesis_lib.errors import ConfigError, DataError

# The steps from the baseline to a setting, by the fields each one changes; every other setting
# field must agree between a setting and its reference.
MODULE_FIELDS = frozenset({"variant", "modules"})
VARIATION_FIELDS = frozenset({"taps", "pairs", "activation", "dropout"})
LOSS_FIELDS = frozenset({
    "contrastive_center_weight", "contrastive_center_delta", "contrastive_center_inter_weight",
    "contrastive_center_lr", "contrastive_center_reduction",
})
COMPARED_FIELDS = MODULE_FIELDS | VARIATION_FIELDS | LOSS_FIELDS
# How a setting's reference is chosen (see find_reference).
REFERENCE_RULES = ("step", "baseline")
# Fields that say which images a run was trained and tested on.
DATA_FIELDS = frozenset({
    "data", "dataset_name", "scheme", "adapter", "split_ratios", "split_seed", "min_side",
    "max_images", "deduplicate",
})
# Fields that change where or how results are stored or shown, not the results themselves.
# They are left out of a run's identity, so that e.g. moving the results folder finds the same
# run.
NON_IDENTITY_FIELDS = frozenset(
    {"results_dir", "eval_datasets", "cache", "verbose", "epoch_delay_s"}
)
# Fields whose content the data fingerprint covers instead of their text (a moved dataset or
# results folder holding the same images is the same data).
DATA_LOCATION_FIELDS = frozenset({"data_dir", "split_file"})
# Fields of a configuration that are not part of its setting: the above, and the seed.
NOT_SETTING_FIELDS = NON_IDENTITY_FIELDS | DATA_LOCATION_FIELDS | {"seed", "run_id"}
# Fields added after runs were first recorded, with the value every run before them had: at
# that value a field is left out of a setting (and of a run's id, see TrainConfig.identity), so
# that a run recorded before the field existed keeps its setting and run id.
ADDED_FIELDS: dict[str, Any] = {"contrastive_center_reduction": "mean"}
# Values a field takes when nobody chose it: such a value is left out of a setting's name.
# (The thesis protocol's defaults, as in TrainConfig; kept here so that reading results needs
# no training code.)
UNREMARKABLE = {"taps": None, "pairs": None, "activation": "relu", "dropout": None,
                "contrastive_center_weight": 0.0, "contrastive_center_reduction": "mean"}
VARIANT_ORDER = ("baseline", "gram", "gramnet", "pairwise")


def setting_fields(config: Mapping[str, Any], data: str | None = None) -> dict[str, Any]:
    """The setting of one run from its configuration (the ``config`` section of
    ``config.json``): every field but the seed and the storage fields.

    Args:
        config: configuration fields.
        data: the data fingerprint; without it the dataset's name (or folder) stands in.
    """
    fields = {key: _plain(value) for key, value in config.items()
              if key not in NOT_SETTING_FIELDS
              and not (key in ADDED_FIELDS and value == ADDED_FIELDS[key])}
    if config.get("split_seed") is None and "seed" in config:
        fields["split_seed"] = "seed"  # a split drawn from each run's seed
    fields["data"] = data if data is not None else (
        config.get("dataset_name") or config.get("data_dir"))
    return fields


def setting_id(fields: Mapping[str, Any]) -> str:
    """12 hex digits of SHA-256 over the canonical JSON of a setting's fields."""
    return identity_hash(fields, 12)


def identity_hash(values: Mapping[str, Any], length: int) -> str:
    """The first ``length`` hex digits of SHA-256 over the canonical JSON of ``values``: the
    hash of run ids (8 digits) and setting ids (12)."""
    canonical = json.dumps(dict(values), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def _plain(value: Any) -> Any:
    """Tuples as lists, so that a setting read back from JSON is the same as the one written."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


# --- names


def short_backbone(backbone: str) -> str:
    """``"EfficientNetV2B2"`` -> ``"B2"``, ``"EfficientNetV2S"`` -> ``"S"``; other names as is."""
    match = re.fullmatch(r"EfficientNet(?:V2)?(\w+)", str(backbone))
    return match.group(1) if match else str(backbone)


def backbone_tag(backbone: str) -> str:
    """The backbone as run ids write it: ``"EfficientNetV2B2"`` -> ``"v2b2"``."""
    return str(backbone).lower().replace("efficientnet", "")


def _count(modules) -> int | None:
    if modules is None or (isinstance(modules, float) and math.isnan(modules)):
        return None
    return int(modules)


def network_name(variant: str, modules=None, backbone: str = "EfficientNetV2B2") -> str:
    """The network's name as the thesis table writes it.

    ``("baseline", 0, "EfficientNetV2B2")`` -> ``"baseline EfficientNetV2B2"``;
    ``("gram", 3, "EfficientNetV2B2")`` -> ``"B2 + 3 Gram modules"``;
    ``("gramnet", 4, ...)`` -> ``"GramNet-style EfficientNetV2B2"``.
    """
    count = _count(modules)
    backbone = backbone if isinstance(backbone, str) else "EfficientNetV2B2"
    if variant == "baseline":
        return f"baseline {backbone}"
    if variant == "gram" and count is not None:
        plural = "" if count == 1 else "s"
        return f"{short_backbone(backbone)} + {count} Gram module{plural}"
    if variant == "pairwise" and count is not None:
        plural = "" if count == 1 else "s"
        return f"{short_backbone(backbone)} + {count} pairwise Gram module{plural}"
    if variant == "gramnet":
        return f"GramNet-style {backbone}"
    suffix = f", {count} modules" if count else ""
    return f"{variant} {backbone}{suffix}"


def setting_names(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """A readable, distinct name for every setting (``setting_id -> fields``).

    Settings of the same network name get, in parentheses, the fields in which they differ
    from each other, each described briefly; a field at its unremarkable value is left out.
    """
    base = {sid: network_name(fields.get("variant"), fields.get("modules"),
                              fields.get("backbone") or "EfficientNetV2B2")
            for sid, fields in settings.items()}
    names = {}
    for network in dict.fromkeys(base.values()):
        members = [sid for sid in settings if base[sid] == network]
        if len(members) == 1:
            names[members[0]] = network
            continue
        keys = sorted({key for sid in members for key in settings[sid]})
        differing = [key for key in keys
                     if len({_canonical(settings[sid].get(key)) for sid in members}) > 1]
        for sid in members:
            parts = [_describe(key, settings[sid].get(key), settings[sid]) for key in differing
                     if not _unremarkable(key, settings[sid].get(key))]
            names[sid] = f"{network} ({', '.join(parts)})" if parts else network
    # Two settings can still meet (both unremarkable in every field they differ in): add ids.
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {sid: (f"{name} [{sid[:6]}]" if counts[name] > 1 else name)
            for sid, name in names.items()}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _unremarkable(key: str, value: Any) -> bool:
    return key in UNREMARKABLE and _canonical(value) == _canonical(UNREMARKABLE[key])


def _describe(key: str, value: Any, fields: Mapping[str, Any]) -> str:
    """A field's value in a name: ``taps 1-3``, ``gelu``, ``epochs 6``."""
    if key == "taps":
        return _describe_taps(value, fields.get("backbone"))
    if key == "activation":
        return "no activation" if value in (None, "none") else str(value)
    if key == "data":
        return f"data {str(value)[:8]}"
    if key == "contrastive_center_weight":
        return f"contrastive-center λ={value:g}" if isinstance(value, int | float) else str(value)
    if key == "contrastive_center_reduction":
        return "L_ctc summed over the batch" if value == "sum" else "L_ctc mean over the batch"
    if isinstance(value, bool):
        return key.replace("_", " ") if value else f"no {key.replace('_', ' ')}"
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    return f"{key.replace('_', ' ')} {value}"


def _describe_taps(taps: Any, backbone: Any) -> str:
    if not taps:
        return "default taps"
    if isinstance(taps, str):
        taps = taps.split(",")
    stages = _stage_numbers(list(taps), backbone)
    if stages is None:
        return "taps " + ",".join(str(tap) for tap in taps)
    if len(stages) > 1 and stages == list(range(stages[0], stages[-1] + 1)):
        return f"taps {stages[0]}-{stages[-1]}"
    return "taps " + ",".join(str(stage) for stage in stages)


def _stage_numbers(taps: list[str], backbone: Any) -> list[int] | None:
    """The backbone stages (1-6) the taps end, when all of them are stage ends."""
    try:
        ends = [name for name, _ in get_backbone(str(backbone)).stage_ends]
    except ConfigError:  # an unknown backbone: name the layers instead
        return None
    if not all(tap in ends for tap in taps):
        return None
    return [ends.index(tap) + 1 for tap in taps]


def order_key(variant: Any, modules: Any, name: str = "") -> tuple:
    """Baseline first, then Gram models by module count, GramNet, pairwise, the rest; by name
    within."""
    rank = VARIANT_ORDER.index(variant) if variant in VARIANT_ORDER else len(VARIANT_ORDER)
    count = _count(modules)
    return (rank, str(variant), -1 if count is None else count, name)


# --- references


def parse_fields(text: str | Mapping[str, Any]) -> dict[str, Any]:
    return dict(text) if isinstance(text, Mapping) else json.loads(text)


def differences(a: Mapping[str, Any], b: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The keys in which two settings differ."""
    return sorted(key for key in keys if _canonical(a.get(key)) != _canonical(b.get(key)))


def _is_default(fields: Mapping[str, Any], key: str) -> bool:
    """Whether a field is at its unremarkable value (a record without it counts as default)."""
    return _unremarkable(key, fields.get(key, UNREMARKABLE.get(key)))


def has_loss_step(fields: Mapping[str, Any]) -> bool:
    """Whether a setting trains with an extra loss term (a contrastive-center weight > 0)."""
    return not _is_default(fields, "contrastive_center_weight")


def has_variation_step(fields: Mapping[str, Any]) -> bool:
    """Whether a setting's modules differ from the default ones (taps, pairs, activation...)."""
    return not all(_is_default(fields, key) for key in VARIATION_FIELDS)


def outermost_step(fields: Mapping[str, Any], baseline: str = "baseline") -> str | None:
    """The last step from the baseline to a setting: ``"loss"``, ``"variation"``,
    ``"modules"``, or ``None`` for the plain baseline itself."""
    if has_loss_step(fields):
        return "loss"
    if has_variation_step(fields):
        return "variation"
    return None if fields.get("variant") == baseline else "modules"


# What a step changes: the fields in which a setting and its reference may differ.
_STEP_FIELDS = {"loss": LOSS_FIELDS, "variation": VARIATION_FIELDS,
                "modules": MODULE_FIELDS | VARIATION_FIELDS}
_STEP_REFERENCE = {"loss": "setting without the extra loss",
                   "variation": "setting with the default modules", "modules": "baseline"}


def _undoes_step(step: str, candidate: Mapping[str, Any], baseline: str) -> bool:
    """Whether ``candidate`` is a setting without ``step`` (whatever its other fields)."""
    if step == "loss":
        return not has_loss_step(candidate)
    if step == "variation":
        return not has_variation_step(candidate) and not has_loss_step(candidate)
    return candidate.get("variant") == baseline and not has_loss_step(candidate)


def find_reference(fields: Mapping[str, Any], candidates: Mapping[str, Mapping[str, Any]], *,
                   rule: str = "step", baseline: str = "baseline",
                   allow_different_data: bool = False) -> tuple[str | None, str]:
    """The setting a setting is compared with, and a note.

    Args:
        fields: the setting's fields.
        candidates: the settings it may be compared with (``setting_id -> fields``); the
            setting itself may be among them.
        rule: ``"step"``: the setting without its outermost step (:func:`outermost_step`):
            Gram-4 + contrastive-center loss -> Gram-4, Gram-3 with gelu -> Gram-3,
            Gram-3 -> the baseline; ``"baseline"``: the plain baseline for every setting.
        baseline: the variant name of the baseline.
        allow_different_data: accept a reference trained the same way on other data or
            splits (noted).

    Returns:
        ``(reference setting id, note)``; ``(None, why)`` when no setting without the step
        was trained the same way (the note names the closest candidate's differences), and
        ``(None, "")`` for the plain baseline.

    Raises:
        ConfigError: an unknown rule.
        DataError: several candidates qualify (their ids are named), or (without
            ``allow_different_data``) the only references were trained on other data or splits.
    """
    if rule not in REFERENCE_RULES:
        raise ConfigError(f"reference rule must be one of {', '.join(REFERENCE_RULES)}, "
                          f"got {rule!r}")
    step = outermost_step(fields, baseline)
    if step is None:
        return None, ""
    free = _STEP_FIELDS[step]
    if rule == "baseline":  # every field a study varies may differ from the plain baseline
        step = "modules" if fields.get("variant") != baseline else "loss"
        free = COMPARED_FIELDS
    pool = {sid: c for sid, c in candidates.items()
            if _undoes_step(step, c, baseline) and _canonical(c) != _canonical(dict(fields))}
    if not pool:
        return None, f"no {_STEP_REFERENCE[step]} among the runs"
    keys = (set(fields) | {key for c in pool.values() for key in c}) - free
    same = [sid for sid, c in pool.items() if not differences(fields, c, keys)]
    if len(same) > 1:
        raise DataError(f"{len(same)} settings qualify as the {_STEP_REFERENCE[step]} "
                        f"({', '.join(same)}); name the reference explicitly")
    if same:
        return same[0], ""
    other_data = [sid for sid, c in pool.items()
                  if not differences(fields, c, keys - DATA_FIELDS)]
    closest = min(pool.values(), key=lambda c: len(differences(fields, c, keys)))
    if other_data:
        changed = ", ".join(differences(fields, pool[other_data[0]], keys & DATA_FIELDS))
        if not allow_different_data:
            raise DataError(
                f"no {_STEP_REFERENCE[step]} was trained on the same data and split "
                f"(they differ in {changed}); compare with allow_different_data=True to "
                "compare anyway")
        if len(other_data) > 1:
            raise DataError(f"{len(other_data)} settings trained on other data qualify as the "
                            f"{_STEP_REFERENCE[step]} ({', '.join(other_data)}); name the "
                            "reference explicitly")
        return other_data[0], f"{_STEP_REFERENCE[step]} trained on other data ({changed})"
    return None, (f"no {_STEP_REFERENCE[step]} trained the same way (differs in: "
                  f"{', '.join(differences(fields, closest, keys))})")


def resolve_reference(name: str, names: Mapping[str, str]) -> str:
    """The setting id that a user names as the reference, by setting id (or its first digits)
    or by its readable name (``setting_id -> name``).

    Raises:
        DataError: no setting or several settings answer to ``name`` (the candidates are named).
    """
    text = str(name).strip()
    matches = [sid for sid, readable in names.items() if readable == text]
    if not matches and len(text) >= 4:
        matches = [sid for sid in names if sid.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DataError(f"reference {text!r} names no setting; settings: "
                        f"{'; '.join(sorted(names.values()))}")
    raise DataError(f"reference {text!r} names {len(matches)} settings: "
                    f"{'; '.join(names[sid] for sid in matches)}")


def is_default_architecture(fields: Mapping[str, Any]) -> bool:
    """Whether a setting uses the default taps, activation, dropout and loss (the network that
    the module count alone describes)."""
    return all(_unremarkable(key, fields.get(key, UNREMARKABLE[key])) for key in UNREMARKABLE)


def describe_settings(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``setting_id -> fields`` of a runs table (column ``setting_fields``)."""
    if table.empty:
        return {}
    first = table.drop_duplicates("setting_id")
    return {row.setting_id: parse_fields(row.setting_fields)
            for row in first.itertuples(index=False)}
