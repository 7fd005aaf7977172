"""``PayloadForm``: the fields of one job type's payload, generated from its JSON Schema.

Text and number Inputs, a Switch for booleans, a Select for enums and Literals; defaults are
filled in, required fields carry a ``*``, and each field has a place for its error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Label, Select, Static, Switch

from ..schema_form import MISSING, FieldSpec, fields_from_schema


def field_label(title: str, required: bool) -> Content:
    label = Content(title)
    return label + Content.styled(" *", "bold $error") if required else label


class PayloadForm(Vertical):
    DEFAULT_CSS = """
    PayloadForm { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.specs: list[FieldSpec] = []

    def set_schema(self, schema: Mapping[str, Any]) -> None:
        """Show the fields of this schema (call ``recompose()`` after)."""
        self.specs = fields_from_schema(dict(schema))

    def compose(self) -> ComposeResult:
        if not self.specs:
            yield Static(Text("This job type takes no payload fields.", style="dim"), classes="field-help")
        for i, spec in enumerate(self.specs):
            with Horizontal(classes="field", id=f"field-{i}"):
                yield Label(field_label(spec.title, spec.required), classes="field-label")
                with Vertical(classes="field-body"):
                    yield self._control(i, spec)
                    if spec.description:
                        yield Static(Text(spec.description), classes="field-help")
                    yield Static("", classes="field-error", id=f"error-{i}")

    def _control(self, i: int, spec: FieldSpec) -> Input | Switch | Select[Any]:
        ident = f"input-{i}"
        tooltip = spec.description or None
        if spec.kind == "boolean":
            return Switch(value=bool(spec.default) if spec.default is not MISSING else False, id=ident, tooltip=tooltip)
        if spec.kind == "choice":
            value = spec.default if spec.default is not MISSING and spec.default in spec.choices else Select.NULL
            return Select(
                [(str(c), c) for c in spec.choices],
                value=value,
                allow_blank=value is Select.NULL,
                prompt="choose…",
                id=ident,
                tooltip=tooltip,
                compact=True,
            )
        input_type = spec.kind if spec.kind in ("integer", "number") else "text"
        return Input(
            value=spec.initial_text(),
            placeholder=spec.hint,
            type=input_type,
            valid_empty=True,
            id=ident,
            tooltip=tooltip,
            compact=True,
        )

    # -- values and errors -----------------------------------------------------------------

    def index_of(self, name: str) -> int | None:
        for i, spec in enumerate(self.specs):
            if spec.name == name:
                return i
        return None

    def control(self, name: str) -> Input | Switch | Select[Any]:
        i = self.index_of(name)
        if i is None:
            raise KeyError(name)
        return self.query_one(f"#input-{i}")  # type: ignore[return-value]

    def raw_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, spec in enumerate(self.specs):
            widget = self.query_one(f"#input-{i}")
            if isinstance(widget, Select):
                out[spec.name] = None if widget.is_blank() else widget.value
            elif isinstance(widget, (Input, Switch)):
                out[spec.name] = widget.value
        return out

    def clear_errors(self) -> None:
        for widget in self.query(".field-error").results(Static):
            widget.update("")
            widget.remove_class("-shown")
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")

    def show_errors(self, errors: Iterable[Mapping[str, Any]]) -> list[str]:
        """Each error next to its field; returns the messages that match no field."""
        unmatched: list[str] = []
        collected: dict[int, list[str]] = {}
        for err in errors:
            path = str(err.get("field", ""))
            message = str(err.get("message", "invalid"))
            name = path.split(".", 1)[0]
            i = self.index_of(name)
            if i is None:
                unmatched.append(f"{path}: {message}" if path and path != "(payload)" else message)
                continue
            rest = path.split(".", 1)[1] if "." in path else ""
            collected.setdefault(i, []).append(f"{rest}: {message}" if rest else message)
        for i, messages in collected.items():
            error = self.query_one(f"#error-{i}", Static)
            error.update(Text("; ".join(messages)))
            error.add_class("-shown")
            self.query_one(f"#input-{i}").add_class("-invalid")
        return unmatched

    def focus_first_error(self) -> None:
        for i in range(len(self.specs)):
            control = self.query_one(f"#input-{i}")
            if control.has_class("-invalid"):
                control.focus()
                return
