"""A job type's payload JSON Schema turned into form fields, and form values back into a payload.

Pure functions, no Textual: the payload model stays the single source of validation — the form
only converts what the user typed into JSON types and lets pydantic (through ``Tickr.submit``)
report what is wrong, field by field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

FieldKind = Literal["text", "integer", "number", "boolean", "choice", "json"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""No default: the field is required (or optional without a default)."""


@dataclass(slots=True)
class FieldSpec:
    name: str
    title: str
    kind: FieldKind
    required: bool = False
    default: Any = MISSING
    nullable: bool = False
    choices: list[Any] = field(default_factory=list)
    description: str = ""
    format: str = ""
    item_kind: str = ""
    """For arrays: the JSON type of the items (comma-separated input works for scalars)."""
    minimum: float | None = None
    maximum: float | None = None

    @property
    def label(self) -> str:
        return f"{self.title} *" if self.required else self.title

    @property
    def hint(self) -> str:
        """Placeholder text for an Input."""
        if self.kind == "json":
            if self.item_kind in ("string", "integer", "number"):
                return "comma-separated, or JSON list"
            return "JSON"
        parts: list[str] = []
        if self.format:
            parts.append(self.format)
        if self.kind in ("integer", "number"):
            parts.append(self.kind)
            if self.minimum is not None and self.maximum is not None:
                parts.append(f"{self.minimum:g}…{self.maximum:g}")
            elif self.minimum is not None:
                parts.append(f"≥ {self.minimum:g}")
            elif self.maximum is not None:
                parts.append(f"≤ {self.maximum:g}")
        if self.nullable and not self.required:
            parts.append("optional")
        return ", ".join(parts)

    def initial_text(self) -> str:
        """What an Input starts with: the default, if any."""
        if self.default is MISSING or self.default is None:
            return ""
        if self.kind == "json":
            return json.dumps(self.default, ensure_ascii=False)
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = schema.get("$defs", {}).get(ref.rsplit("/", 1)[1], {})
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return merged
    return node


def fields_from_schema(schema: dict[str, Any]) -> list[FieldSpec]:
    """One FieldSpec per top-level property, in declaration order."""
    required = set(schema.get("required", []))
    out: list[FieldSpec] = []
    for name, raw in (schema.get("properties") or {}).items():
        node = _resolve(schema, raw)
        nullable = False
        variants = node.get("anyOf") or node.get("oneOf")
        if variants:
            non_null = [_resolve(schema, v) for v in variants if v.get("type") != "null"]
            nullable = len(non_null) < len(variants)
            # Optional[X]: use X; a real union of several types gets a JSON input.
            base = non_null[0] if len(non_null) == 1 else {"type": "union"}
            node = {**base, **{k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}}
        title = str(node.get("title") or name.replace("_", " ").capitalize())
        spec = FieldSpec(
            name=name,
            title=title,
            kind="text",
            required=name in required,
            default=node["default"] if "default" in node else MISSING,
            nullable=nullable,
            description=str(node.get("description") or ""),
            format=str(node.get("format") or ""),
            minimum=_num(node.get("minimum", node.get("exclusiveMinimum"))),
            maximum=_num(node.get("maximum", node.get("exclusiveMaximum"))),
        )
        jtype = node.get("type")
        if "enum" in node:
            spec.kind = "choice"
            spec.choices = list(node["enum"])
        elif "const" in node:
            spec.kind = "choice"
            spec.choices = [node["const"]]
        elif jtype == "boolean":
            spec.kind = "boolean"
        elif jtype == "integer":
            spec.kind = "integer"
        elif jtype == "number":
            spec.kind = "number"
        elif jtype == "string":
            spec.kind = "text"
        else:  # array, object, union, anything else: typed as JSON
            spec.kind = "json"
            items = node.get("items")
            if jtype == "array" and isinstance(items, dict):
                spec.item_kind = str(_resolve(schema, items).get("type") or "")
        out.append(spec)
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(slots=True)
class Collected:
    payload: dict[str, Any]
    errors: dict[str, str]
    """Field name -> message, for input the form could not even turn into JSON."""


def collect(specs: list[FieldSpec], raw: dict[str, Any]) -> Collected:
    """Form values (str for Inputs, bool for switches, the option value or None for selects)
    into a payload. Empty inputs are left out, so the model's default applies (and a required
    field is reported missing by the model itself)."""
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        if spec.name not in raw:
            continue
        value = raw[spec.name]
        if spec.kind == "boolean":
            payload[spec.name] = bool(value)
            continue
        if spec.kind == "choice":
            if value is not None:
                payload[spec.name] = value
            continue
        text = "" if value is None else str(value)
        if text.strip() == "":
            continue
        if spec.kind == "integer":
            try:
                payload[spec.name] = int(text.strip())
            except ValueError:
                payload[spec.name] = text  # the model says what is wrong
        elif spec.kind == "number":
            try:
                payload[spec.name] = float(text.strip())
            except ValueError:
                payload[spec.name] = text
        elif spec.kind == "json":
            stripped = text.strip()
            try:
                payload[spec.name] = json.loads(stripped)
            except json.JSONDecodeError as exc:
                if spec.item_kind in ("string", "integer", "number") and not stripped.startswith("["):
                    payload[spec.name] = [_scalar(p.strip(), spec.item_kind) for p in stripped.split(",") if p.strip()]
                else:
                    errors[spec.name] = f"not valid JSON: {exc.msg} (column {exc.colno})"
        else:
            payload[spec.name] = text
    return Collected(payload, errors)


def _scalar(text: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    return text
