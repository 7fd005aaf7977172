"""The payload form's schema handling (pure functions, no Textual) and the import boundary."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

from tickr_app.tui.schema_form import MISSING, FieldSpec, collect, fields_from_schema


class Color(str, Enum):
    red = "red"
    blue = "blue"


class Inner(BaseModel):
    a: int


class Everything(BaseModel):
    to: str = Field(description="recipient")
    n: int = Field(1, ge=1, le=10)
    ratio: float = 0.5
    flag: bool = False
    tone: Literal["warm", "cool"] = "warm"
    color: Color = Color.red
    level: Literal[1, 2, 3] = 2
    maybe: int | None = None
    tags: list[str] = []
    inner: Inner | None = None


def specs() -> dict[str, FieldSpec]:
    return {s.name: s for s in fields_from_schema(Everything.model_json_schema())}


def test_every_field_kind_is_mapped() -> None:
    s = specs()
    kinds = {name: spec.kind for name, spec in s.items()}
    assert kinds == {
        "to": "text",
        "n": "integer",
        "ratio": "number",
        "flag": "boolean",
        "tone": "choice",
        "color": "choice",
        "level": "choice",
        "maybe": "integer",
        "tags": "json",
        "inner": "json",
    }
    to, n, color, level, maybe = s["to"], s["n"], s["color"], s["level"], s["maybe"]
    assert to.required and to.label == "To *" and to.default is MISSING
    assert to.description == "recipient"
    assert not n.required and n.initial_text() == "1" and "1…10" in n.hint
    assert color.choices == ["red", "blue"] and color.default == "red"
    assert level.choices == [1, 2, 3]
    assert maybe.nullable and maybe.initial_text() == ""
    assert s["tags"].item_kind == "string"


def test_collect_converts_and_leaves_empty_fields_to_the_model() -> None:
    fields = fields_from_schema(Everything.model_json_schema())
    got = collect(
        fields,
        {"to": "a@b.c", "n": "7", "ratio": "0.25", "flag": True, "tone": "cool", "color": None, "level": 3,
         "maybe": "", "tags": "x, y", "inner": '{"a": 1}'},
    )
    assert got.errors == {}
    assert got.payload == {"to": "a@b.c", "n": 7, "ratio": 0.25, "flag": True, "tone": "cool", "level": 3,
                           "tags": ["x", "y"], "inner": {"a": 1}}
    assert Everything.model_validate(got.payload).n == 7


def test_collect_reports_bad_json_and_passes_bad_numbers_to_the_model() -> None:
    fields = fields_from_schema(Everything.model_json_schema())
    got = collect(fields, {"to": "x", "n": "seven", "inner": "{oops"})
    assert "inner" in got.errors and "JSON" in got.errors["inner"]
    assert got.payload["n"] == "seven"  # the model reports "n" next to its field
