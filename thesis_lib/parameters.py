"""Parameters that arrive as text, converted by their declared type.

Values reach the workbench as text from many places: papermill's ``-p name value`` (which turns
only ``True``/``False``/``None`` and numbers into Python values), a ``-f`` YAML file, ``thesis train
--set name=value``, a grid file, a notebook's parameters cell. ``-p augment false`` arrives as the
string ``"false"``, which Python reads as true; ``-p taps block2b_add`` arrives as one string,
which a list-expecting function reads as a list of characters. Every field therefore declares a
type, and :func:`convert` turns whatever arrived into that type or raises one ``ConfigError``
naming the field, the value and what was expected, before any work starts.

Declared types are the annotations of a dataclass field (strings, since the modules use
``from __future__ import annotations``):

=========================  ===========================================================
``bool``                   ``true/false``, ``yes/no``, ``on/off``, ``1/0`` in any case
``int``, ``float``         numbers or numeric text (``"3"``, ``"1e-4"``); an int must be whole
``str``                    text as it is (a path is written as text)
``list[str]``...           YAML or JSON text (``'["a", "b"]'``), a list or tuple, or one
                           value, which becomes a one-element list
``tuple[float, ...]``      as a list, then a tuple
``dict[str, str]``...      YAML or JSON text, or a mapping
``X | None``               ``None``, or ``none``/``null``/empty text, or a value of ``X``
=========================  ===========================================================
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from thesis_lib.errors import ConfigError

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
NONE_WORDS = frozenset({"none", "null", "~", ""})


def convert(name: str, value: Any, declared: str) -> Any:
    """``value`` as the type ``declared`` (an annotation string such as ``"list[str] | None"``).

    Raises:
        ConfigError: ``<name>: expected <what>, got <value>``.
    """
    declared = declared.strip()
    options = _union_members(declared)
    if len(options) > 1:
        if "None" in options and _is_none(value):
            return None
        rest = [option for option in options if option != "None"]
        errors = []
        for option in rest:
            try:
                return convert(name, value, option)
            except ConfigError as error:
                errors.append(error)
        if len(rest) == 1:
            raise errors[0]
        raise ConfigError(f"{name}: expected {describe(declared)}, got {value!r}")
    return _convert_one(name, value, declared)


def describe(declared: str) -> str:
    """What a declared type accepts, in words (for error messages)."""
    options = [option for option in _union_members(declared) if option != "None"]
    words = [_WORDS.get(_outer(option), option) for option in options]
    suffix = " or none" if "None" in _union_members(declared) else ""
    return " or ".join(words) + suffix


_WORDS = {
    "bool": "true or false (yes/no, on/off, 1/0)",
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "list": "a list (YAML/JSON text such as [a, b], or one value)",
    "tuple": "a list of numbers (YAML/JSON text such as [0.8, 0.1, 0.1])",
    "dict": "a mapping (YAML/JSON text such as {name: value})",
    "Any": "any value",
}


def _convert_one(name: str, value: Any, declared: str) -> Any:
    kind, inner = _outer(declared), _inner(declared)
    if kind == "Any":
        return _parsed(value) if isinstance(value, str) else value
    if kind == "None":
        if _is_none(value):
            return None
        raise ConfigError(f"{name}: expected none, got {value!r}")
    if kind == "bool":
        return _to_bool(name, value)
    if kind in ("int", "float"):
        return _to_number(name, value, kind)
    if kind == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}: expected text, got {value!r}")
        return str(value)
    if kind in ("list", "tuple"):
        return _to_sequence(name, value, kind, inner)
    if kind == "dict":
        return _to_mapping(name, value, inner)
    raise ConfigError(f"{name}: cannot convert to the declared type {declared!r}")


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ConfigError(f"{name}: expected {_WORDS['bool']}, got {value!r}")


def _to_number(name: str, value: Any, kind: str) -> int | float:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected {_WORDS[kind]}, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected {_WORDS[kind]}, got {value!r}") from None
    if kind == "float":
        return number
    if not math.isfinite(number) or number != int(number):
        raise ConfigError(f"{name}: expected {_WORDS['int']}, got {value!r}")
    return int(number)


def _to_sequence(name: str, value: Any, kind: str, inner: list[str]) -> list | tuple:
    if isinstance(value, str):
        parsed = _parsed(value)
        value = parsed if isinstance(parsed, list) else [value.strip()]
    elif isinstance(value, Mapping) or not _iterable(value):
        value = [value]
    items = list(value)
    if kind == "tuple":
        declared = [item for item in inner if item != "..."]
        if "..." not in inner and len(items) != len(declared):
            raise ConfigError(f"{name}: expected {len(declared)} values, got {len(items)}: "
                              f"{items!r}")
        types = declared * len(items) if "..." in inner else declared
        return tuple(convert(f"{name}[{i}]", item, kind_)
                     for i, (item, kind_) in enumerate(zip(items, types, strict=False)))
    item_type = inner[0] if inner else "Any"
    return [convert(f"{name}[{i}]", item, item_type) for i, item in enumerate(items)]


def _to_mapping(name: str, value: Any, inner: list[str]) -> dict:
    if isinstance(value, str):
        value = {} if _is_none(value) else _parsed(value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected {_WORDS['dict']}, got {value!r}")
    key_type, value_type = (inner + ["Any", "Any"])[:2]
    return {convert(f"{name} key", key, key_type): convert(f"{name}[{key!r}]", item, value_type)
            for key, item in value.items()}


def _parsed(text: str) -> Any:
    """YAML (a superset of JSON) of ``text``; the text itself when it is not valid YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _iterable(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset) or (
        hasattr(value, "__iter__") and hasattr(value, "__len__") and not isinstance(value, str)
    )


def _is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS)


def _union_members(declared: str) -> list[str]:
    """``"list[str] | None"`` -> ``["list[str]", "None"]`` (``|`` inside brackets kept)."""
    parts, depth, current = [], 0, ""
    for char in declared:
        depth += char == "["
        depth -= char == "]"
        if char == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def _outer(declared: str) -> str:
    return re.split(r"\[", declared, maxsplit=1)[0].strip()


def _inner(declared: str) -> list[str]:
    """The arguments of ``list[...]``, ``tuple[...]``, ``dict[...]``, split at top level."""
    if "[" not in declared:
        return []
    body = declared[declared.index("[") + 1: declared.rindex("]")]
    parts, depth, current = [], 0, ""
    for char in body:
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def convert_fields(instance: Any) -> None:
    """Convert every field of a dataclass instance in place, by its declared type."""
    for field in dataclasses.fields(instance):
        declared = field.type if isinstance(field.type, str) else _annotation_text(field.type)
        setattr(instance, field.name, convert(field.name, getattr(instance, field.name), declared))


def _annotation_text(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def from_namespace(cls: type, namespace: Mapping[str, Any], **overrides: Any) -> Any:
    """An instance of the dataclass ``cls`` from the names it declares in ``namespace`` (e.g. a
    notebook's ``globals()`` after papermill injected its parameters); converted by type."""
    names = {field.name for field in dataclasses.fields(cls)}
    values = {name: value for name, value in namespace.items() if name in names}
    return cls(**{**values, **overrides})


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``["partition=gpu", "gpus_per_node=2"]`` -> ``{"partition": "gpu", "gpus_per_node": 2}``
    (``--set`` and ``--slurm`` on the command line; each value read as YAML, then converted by
    the field's declared type where it has one)."""
    result = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"expected NAME=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        result[key.strip()] = _parsed(value)
    return result
