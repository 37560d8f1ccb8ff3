"""Parameters that arrive as text, converted by their declared type
(docs/training.md#a-parameter-means-what-it-says): :func:`convert` turns whatever arrived into
that type or raises one ``ConfigError`` naming the field, the value and what was expected.

pydantic validates (a ``TypeAdapter`` per declared type, in lax mode); a few rules run before it,
so that text means what it says:

==========================  ===========================================================
``bool``                    ``true/false``, ``yes/no``, ``on/off``, ``1/0`` in any case (and
                            pydantic's ``t/f``, ``y/n``); no other number
``int``, ``float``          numbers or numeric text (``"3"``, ``"1e-4"``); an int must be whole
                            (``"3.0"`` is 3, ``"3.5"`` an error); ``True`` is not a number
``str``                     text as it is; a path or a number (``2024``) as its text
``list[str]``...            YAML or JSON text (``'["a", "b"]'``, ``[a, b]``), a list or tuple,
                            or one value, which becomes a one-element list
``tuple[float, ...]``       as a list, then a tuple (of the declared length, if fixed)
``dict[str, str]``...       YAML or JSON text, or a mapping; empty text is ``{}``
``Optional[X]``             ``None``, or ``none``/``null``/``~``/empty text, or a value of ``X``
==========================  ===========================================================

A declared type is a type (``list[int] | None``, the same as ``Optional[list[int]]``), a dataclass
field's annotation (resolved with ``typing.get_type_hints``) or annotation text
(``"Optional[list[int]]"``, evaluated with only ``TYPE_NAMES`` in scope).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import os
import typing
from collections.abc import Iterable, Mapping
from types import NoneType, UnionType
from typing import Annotated, Any, Optional, Union

import yaml
from pydantic import BeforeValidator, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError, PydanticKnownError

from thesis_lib.errors import ConfigError

NONE_WORDS = frozenset({"none", "null", "~", ""})

# The names annotation text may use.
TYPE_NAMES = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "tuple": tuple,
              "dict": dict, "Any": Any, "Optional": Optional, "Union": Union}

# What each kind of value is, in words (for error messages).
WORDS = {
    bool: "true or false (yes/no, on/off, 1/0)",
    int: "a whole number",
    float: "a number",
    str: "text",
    list: "a list (YAML/JSON text such as [a, b], or one value)",
    tuple: "a list of numbers (YAML/JSON text such as [0.8, 0.1, 0.1])",
    dict: "a mapping (YAML/JSON text such as {name: value})",
    NoneType: "none",
}
# pydantic's error types -> the kind of value that was expected.
ERROR_KINDS = {
    "bool_parsing": bool, "bool_type": bool, "int_parsing": int, "int_type": int,
    "int_from_float": int, "finite_number": int, "float_parsing": float, "float_type": float,
    "string_type": str, "list_type": list, "tuple_type": tuple, "dict_type": dict,
    "none_required": NoneType,
}


def convert(name: str, value: Any, declared: Any) -> Any:
    """``value`` as the type ``declared`` (a type such as ``list[str] | None``, or its text).

    Raises:
        ConfigError: ``<name>: expected <what>, got <value>``.
    """
    try:
        return _adapter(declared).validate_python(value)
    except ValidationError as error:
        raise ConfigError(_one_line(name, value, resolve_type(declared), error)) from None


@functools.cache
def _adapter(declared: Any) -> TypeAdapter:
    return TypeAdapter(_with_text_rules(resolve_type(declared)),
                       config=ConfigDict(coerce_numbers_to_str=True))


@functools.cache
def resolve_type(declared: Any) -> Any:
    if not isinstance(declared, str):
        return declared
    try:
        return eval(declared, {"__builtins__": {}}, dict(TYPE_NAMES))  # only the names above
    except Exception as error:
        raise ConfigError(f"cannot read the declared type {declared!r}: {error}") from None


def _with_text_rules(declared: Any) -> Any:
    """``declared`` with the rules of the table attached, as pydantic ``BeforeValidator``\\s."""
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if origin in (Union, UnionType):
        members = functools.reduce(operator.or_, map(_with_text_rules, args))
        return Annotated[members, BeforeValidator(_none_word)] if NoneType in args else members
    if (origin or declared) in (list, tuple):
        length = len(args) if origin is tuple and Ellipsis not in args else None
        inner = tuple(arg if arg is Ellipsis else _with_text_rules(arg) for arg in args)
        rebuilt = origin[inner] if args else declared
        return Annotated[rebuilt, BeforeValidator(functools.partial(_as_list, length=length))]
    if (origin or declared) is dict:
        rebuilt = dict[tuple(_with_text_rules(arg) for arg in args)] if args else dict
        return Annotated[rebuilt, BeforeValidator(_as_mapping)]
    if declared is bool:
        return Annotated[bool, BeforeValidator(_stripped)]
    if declared in (int, float):
        return Annotated[declared, BeforeValidator(functools.partial(_not_a_bool, kind=declared))]
    if declared is str:
        return Annotated[str, BeforeValidator(_path_as_text)]
    return declared


def _none_word(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() in NONE_WORDS else value


def _as_list(value: Any, length: int | None) -> Any:
    if isinstance(value, str):
        parsed = _parsed(value)
        value = parsed if isinstance(parsed, list) else [value.strip()]
    elif isinstance(value, Mapping) or not isinstance(value, Iterable):
        value = [value]
    items = list(value)
    if length is not None and len(items) != length:
        raise PydanticCustomError("length", "expected {length} values, got {count}: {items}",
                                  {"length": length, "count": len(items), "items": repr(items)})
    return items


def _as_mapping(value: Any) -> Any:
    if isinstance(value, str):
        return {} if value.strip().lower() in NONE_WORDS else _parsed(value)
    return value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _not_a_bool(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise PydanticKnownError(f"{kind.__name__}_type")
    return value


def _path_as_text(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _one_line(name: str, value: Any, declared: Any, error: ValidationError) -> str:
    """The first of pydantic's errors as ``<name>[<index>]: expected <what>, got <value>``."""
    if typing.get_origin(declared) in (Union, UnionType):
        members = [arg for arg in typing.get_args(declared) if arg is not NoneType]
        if len(members) > 1:
            words = [WORDS.get(typing.get_origin(arg) or arg, str(arg)) for arg in members]
            return f"{name}: expected {' or '.join(words)}, got {value!r}"
    first = error.errors()[0]
    where = name + "".join(" key" if part == "[key]" else f"[{part}]" if isinstance(part, int)
                           else f"[{part!r}]" for part in first["loc"])
    kind = ERROR_KINDS.get(first["type"])
    if kind is None:
        return f"{where}: {first['msg']}"
    return f"{where}: expected {WORDS[kind]}, got {first['input']!r}"


def _parsed(text: str) -> Any:
    """YAML (a superset of JSON) of ``text``; the text itself when it is not valid YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def convert_fields(instance: Any) -> None:
    """Convert every field of a dataclass instance in place, by its declared type."""
    hints = _type_hints(type(instance))
    for member in dataclasses.fields(instance):
        setattr(instance, member.name,
                convert(member.name, getattr(instance, member.name), hints[member.name]))


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


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
