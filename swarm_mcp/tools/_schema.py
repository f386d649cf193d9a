"""Tool JSON Schemas straight from type hints, without building pydantic models.

`tools/list` needs every tool's input and output schema before the first call. Building a
pydantic model per tool and asking it for its schema cost ~4 ms per tool at start (110 ms for 28
tools, a third of a cold start), so this module writes the same schemas directly: what
`create_model(..., extra="forbid").model_json_schema()` and `TypeAdapter(typed_dict).json_schema()`
produce, titles stripped, for the types tools use (str, int, float, bool, Any, None, Literal,
unions, list, tuple[X, ...], dict[str, X], TypedDict, and pydantic models nested in arguments,
whose schema pydantic itself supplies). Anything else raises `Unsupported` and the registry
asks pydantic instead. `tests/tools/test_schema.py` holds every tool's schema equal to pydantic's.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union

import annotated_types
import typing_extensions
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

__all__ = ("Unsupported", "input_schema", "omittable", "output_schema", "strip_titles")

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"},
    type(None): {"type": "null"}, None: {"type": "null"}, Any: {}, object: {},
}
_LITERAL_TYPES = {str: "string", int: "integer", bool: "boolean", float: "number"}
_NUMERIC = {annotated_types.Ge: ("ge", "minimum"), annotated_types.Le: ("le", "maximum"),
            annotated_types.Gt: ("gt", "exclusiveMinimum"), annotated_types.Lt: ("lt", "exclusiveMaximum"),
            annotated_types.MultipleOf: ("multiple_of", "multipleOf")}


class Unsupported(Exception):
    """A type this module does not render the way pydantic would; ask pydantic."""


def strip_titles(node: Any, *, naming: bool = False) -> Any:
    """Drop pydantic's auto-generated `title`s; `naming` marks a dict whose keys are property names."""
    if isinstance(node, dict):
        return {
            key: strip_titles(value, naming=key in ("properties", "$defs", "patternProperties") and not naming)
            for key, value in node.items()
            if naming or not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [strip_titles(item) for item in node]
    return node


def omittable(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema without the `null` branch and `default: null` of optional arguments: to
    leave an argument unset a client omits it, so `null` only costs the model's context (about
    70 characters an argument). The validation model still accepts an explicit null. Nested
    models under `$defs` (a plan's steps) get the same treatment."""
    definitions = schema.get("$defs")
    if isinstance(definitions, dict):
        schema = {**schema, "$defs": {name: omittable(d) if isinstance(d, dict) else d for name, d in definitions.items()}}
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    compact = {}
    for name, prop in properties.items():
        branches = prop.get("anyOf")
        if "default" in prop and prop["default"] is None and isinstance(branches, list) and len(branches) == 2 \
                and {"type": "null"} in branches:
            kept = next(b for b in branches if b != {"type": "null"})
            prop = {k: v for k, v in prop.items() if k not in ("anyOf", "default")} | kept
        elif "default" in prop and prop["default"] is None:
            prop = {k: v for k, v in prop.items() if k != "default"}
        compact[name] = prop
    return {**schema, "properties": compact}


def _sorted(schema: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(schema.items()))


def _field_infos(metadata: tuple[Any, ...]) -> tuple[list[Any], str | None, Any]:
    """Constraints, description and alias from Annotated metadata."""
    constraints: list[Any] = []
    description = alias = None
    for item in metadata:
        if isinstance(item, FieldInfo):
            if item.examples or item.json_schema_extra or item.title or item.discriminator is not None:
                raise Unsupported("Field options beyond description, alias and constraints")
            description = item.description or description
            alias = item.alias or alias
            constraints += item.metadata
        else:
            constraints.append(item)
    return constraints, description, alias


_LENGTH = {"string": "Length", "array": "Items", "object": "Properties"}  # what a min/max length bounds


def _apply(schema: dict[str, Any], constraints: list[Any]) -> dict[str, Any]:
    """Put constraints on the schema they constrain (numbers, strings, arrays, objects)."""
    if not constraints:
        return schema
    out = dict(schema)
    kind = schema.get("type")
    for item in constraints:
        numeric = _NUMERIC.get(type(item))
        if numeric is not None and kind in ("integer", "number"):
            out[numeric[1]] = getattr(item, numeric[0])
        elif isinstance(item, annotated_types.MinLen) and kind in _LENGTH:
            out[f"min{_LENGTH[kind]}"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen) and kind in _LENGTH:
            out[f"max{_LENGTH[kind]}"] = item.max_length
        elif getattr(item, "pattern", None) is not None and kind == "string" and len(vars(item)) == 1:
            out["pattern"] = item.pattern
        else:
            raise Unsupported(f"constraint {item!r} on {schema}")
    return _sorted(out)


class _Writer:
    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self._owners: dict[str, Any] = {}

    def schema(self, tp: Any, constraints: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        origin = typing.get_origin(tp)
        if origin is Annotated:
            base, *metadata = typing.get_args(tp)
            inner, description, _ = _field_infos(tuple(metadata))
            schema = self.schema(base, [*inner, *constraints])
            return _sorted({**schema, "description": description}) if description else schema
        if origin in (Union, types.UnionType):
            members = typing.get_args(tp)
            real = [m for m in members if m not in (None, type(None))]
            if constraints and len(real) != 1:
                raise Unsupported("constraints on a union of several types")
            return {"anyOf": [self.schema(m, constraints if m in real else []) for m in members]}
        if constraints and origin is None and tp not in (str, int, float):
            raise Unsupported(f"constraints on {tp!r}")
        if origin is None and tp in _SIMPLE:
            return _apply(_SIMPLE[tp], list(constraints))
        if origin is Literal:
            return self._literal(typing.get_args(tp))
        if origin in (list, tuple) or tp in (list, tuple):
            args = typing.get_args(tp)
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                raise Unsupported("fixed-length tuples")
            items = self.schema(args[0]) if args else {}
            return _apply({"items": items, "type": "array"}, list(constraints))
        if origin is dict or tp is dict:
            args = typing.get_args(tp)
            if args and args[0] is not str:
                raise Unsupported("dict keys other than str")
            value = self.schema(args[1]) if args else {}
            return _apply({"additionalProperties": value if value else True, "type": "object"}, list(constraints))
        if typing_extensions.is_typeddict(tp):
            return self._reference(tp, self.typed_dict)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self._reference(tp, self._model)
        raise Unsupported(f"type {tp!r}")

    def _literal(self, values: tuple[Any, ...]) -> dict[str, Any]:
        kinds = {type(v) for v in values}
        if len(kinds) != 1 or next(iter(kinds)) not in _LITERAL_TYPES:
            raise Unsupported(f"Literal{list(values)!r}")
        kind = _LITERAL_TYPES[next(iter(kinds))]
        if len(values) == 1:
            return {"const": values[0], "type": kind}
        return {"enum": list(values), "type": kind}

    def _reference(self, cls: type, write: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        name = cls.__name__
        owner = self._owners.setdefault(name, cls)
        if owner is not cls:
            raise Unsupported(f"two types named {name}")
        if name not in self.defs:
            self.defs[name] = {}  # reserved: a recursive type refers to itself
            self.defs[name] = write(cls)
        return {"$ref": f"#/$defs/{name}"}

    def typed_dict(self, cls: Any) -> dict[str, Any]:
        hints = typing_extensions.get_type_hints(cls, include_extras=True)
        properties: dict[str, Any] = {}
        required = []
        for name, hint in hints.items():
            optional = not getattr(cls, "__total__", True)
            origin = typing.get_origin(hint)
            if origin in (typing_extensions.NotRequired, typing_extensions.Required):
                optional = origin is typing_extensions.NotRequired
                (hint,) = typing.get_args(hint)
            properties[name] = self.schema(hint)
            if not optional:
                required.append(name)
        schema: dict[str, Any] = {"properties": properties, "type": "object"}
        if required:
            schema["required"] = required
        if cls.__doc__:
            schema["description"] = inspect.cleandoc(cls.__doc__)
        return _sorted(schema)

    def _model(self, cls: type[BaseModel]) -> dict[str, Any]:
        schema = strip_titles(cls.model_json_schema())
        for name, definition in schema.pop("$defs", {}).items():
            self.defs.setdefault(name, definition)
        return schema

    def finish(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.defs:
            schema = {"$defs": dict(sorted(self.defs.items())), **schema}
        return schema


def _jsonable_default(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable_default(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _jsonable_default(v) for k, v in value.items()}
    raise Unsupported(f"default {value!r}")


def input_schema(parameters: Mapping[str, tuple[Any, Any, str]]) -> dict[str, Any]:
    """The arguments model's schema: `parameters` maps each Python name to (hint, default or
    `inspect.Parameter.empty`, wire alias)."""
    writer = _Writer()
    properties: dict[str, Any] = {}
    required = []
    for _name, (hint, default, alias) in parameters.items():
        constraints: list[Any] = []
        description = None
        base = hint
        if typing.get_origin(hint) is Annotated:
            base, *metadata = typing.get_args(hint)
            constraints, description, explicit = _field_infos(tuple(metadata))
            alias = explicit or alias
        schema = writer.schema(base, constraints)
        if description:
            schema = {**schema, "description": description}
        if default is inspect.Parameter.empty or default is PydanticUndefined:
            required.append(alias)
        else:
            schema = {**schema, "default": _jsonable_default(default)}
        properties[alias] = _sorted(schema)
    out: dict[str, Any] = {"additionalProperties": False, "properties": properties}
    if required:
        out["required"] = required
    out["type"] = "object"
    return writer.finish(out)


def output_schema(typed_dict: Any) -> dict[str, Any]:
    """A TypedDict result's schema: the dict inline, the types it uses under `$defs`."""
    writer = _Writer()
    return writer.finish(writer.typed_dict(typed_dict))
