"""A flow's parameters as command-line options, generated from the flow's own typed signature.

The source is the JSON schema Prefect builds for the flow's run form (`flow.parameters`: titles,
descriptions, enums, bounds, defaults, pydantic models), so a parameter is defined once, in the
flow, and the CLI can neither miss one nor drift from it:

- every parameter is a `--kebab-case` option (`shard_rows` -> `--shard-rows`), in the form's order;
  a parameter that is a pydantic model gets one option per field (`--tuning-beam`), in a group of
  its own, as the form renders it as a section of its own;
- a list takes repeated options or commas (`--subtitles vtt,srt`; an empty value is the empty
  list), a boolean `--x / --no-x`; anything else the schema cannot spell as one value (a dict) is
  given as JSON;
- values are checked with the form's own check (Prefect's jsonschema validation, the words the
  server answers the form with), then through the flow's pydantic model (`flow.validate_parameters`,
  the check the flow run itself makes); a bad value is answered with the option, the form's words
  and what the option accepts.

Only the options given reach the flow: the flow's own defaults apply to the rest.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

BOOL, LIST, VALUE, JSON = "boolean", "list", "value", "json"


@dataclass(frozen=True)
class FlowOption:
    """One command-line option: a flow parameter, or one field of a parameter that is a model."""

    name: str  # the parameter, or "parameter.field"
    flags: tuple[str, ...]  # the generated flag first, then its aliases
    schema: dict  # the property's schema, references resolved, `null` alternatives dropped
    kind: str  # BOOL, LIST, VALUE or JSON
    title: str
    required: bool = False
    nullable: bool = False
    default: Any = None
    has_default: bool = False
    negative_flags: tuple[str, ...] = ()  # extra `--no-...` spellings of a boolean

    @property
    def dest(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return "/".join(self.flags)


@dataclass
class FlowOptions:
    """The options of one flow, as added to one parser."""

    flow: Any
    schema: dict  # the run form's schema (flow.parameters)
    options: list[FlowOption] = field(default_factory=list)
    groups: dict[str, list[FlowOption]] = field(default_factory=dict)

    def by_name(self, name: str) -> FlowOption | None:
        return next((o for o in self.options if o.name == name), None)

    def parameters(self, args: argparse.Namespace) -> dict:
        """The parameters the user gave, as JSON values (a model's fields merged into its default)."""
        given: dict[str, Any] = {}
        for option in self.options:
            if not hasattr(args, option.dest):
                continue
            value = to_json(option, getattr(args, option.dest))
            if "." in option.name:
                parent, child = option.name.split(".", 1)
                if parent not in given:
                    base = self.schema["properties"][parent].get("default")
                    given[parent] = dict(base) if isinstance(base, dict) else {}
                given[parent][child] = value
            else:
                given[option.name] = value
        return given

    def errors(self, given: dict) -> list[str]:
        """What is wrong with `given`, in the form's words, each naming its option and what it accepts;
        [] when the form and the flow's pydantic model both take it."""
        from prefect.utilities.schema_tools.validation import build_error_obj, preprocess_schema, validate

        checked = build_error_obj(validate(given, preprocess_schema(self.schema), raise_on_error=False))
        found = [line for entry in checked["errors"] for line in self._form_errors(entry, given)]
        return found or self._pydantic_errors(given)

    def validated(self, given: dict) -> dict:
        """Every parameter of the flow, cast by its pydantic model, defaults filled in."""
        with quiet("prefect.flows"):
            return self.flow.validate_parameters(given)

    def _form_errors(self, entry: dict | str, given: dict, parent: str = "") -> list[str]:
        if isinstance(entry, str):
            return [entry]
        name = f"{parent}.{entry['property']}" if parent else entry["property"]
        option = self.by_name(name)
        lines = []
        for error in entry["errors"]:
            if isinstance(error, dict) and "property" in error:  # a field of a model parameter
                lines += self._form_errors(error, given, name)
            elif isinstance(error, dict):  # an item of a list
                lines += [f"{describe(option, name)} item {error['index'] + 1}: {words}" for words in error["errors"]]
            else:
                lines.append(f"{describe(option, name)}: {error}")
        return [f"{line}{accepts_note(option)}" for line in lines]

    def _pydantic_errors(self, given: dict) -> list[str]:
        from prefect.exceptions import ParameterTypeError

        try:
            self.validated(given)
        except ParameterTypeError as exc:
            lines = [line.removeprefix(" - ") for line in str(exc).splitlines() if line.startswith(" - ")]
            out = []
            for line in lines or [str(exc)]:
                location, _, words = line.partition(": ")
                name = location.split(".")[0]
                option = self.by_name(name)
                out.append(f"{describe(option, location)}: {words}{accepts_note(option)}" if words else line)
            return out
        return []


@contextmanager
def quiet(logger_name: str):
    """Prefect logs every failed parameter validation at ERROR; the CLI says it better, once."""
    logger = logging.getLogger(logger_name)
    before, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = before


def describe(option: FlowOption | None, name: str) -> str:
    return option.label if option else name


def accepts_note(option: FlowOption | None) -> str:
    """What the option accepts, after the form's words (which list an enum's choices themselves)."""
    if option is None or "enum" in option.schema or "enum" in option.schema.get("items", {}):
        return ""
    return f" ({option.title} accepts {accepts(option)})"


def kebab(name: str) -> str:
    return "--" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- schema -> options ----------------------------------------------------------------------------

def resolve(prop: dict, definitions: dict) -> tuple[dict, bool]:
    """A property's schema with `$ref` / single-`allOf` references resolved and a `null` alternative
    dropped (its first non-null one kept); (schema, whether null is accepted)."""
    nullable = False
    alternatives = prop.get("anyOf") or prop.get("oneOf")
    if alternatives:
        rest = [a for a in alternatives if a.get("type") != "null"]
        nullable = len(rest) < len(alternatives)
        if len(rest) == 1:
            prop = {**{k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}, **rest[0]}
    ref = prop.get("$ref")
    if ref is None and len(prop.get("allOf", [])) == 1 and "$ref" in prop["allOf"][0]:
        ref = prop["allOf"][0]["$ref"]
    if ref:
        target = definitions.get(ref.rsplit("/", 1)[-1], {})
        prop = {**target, **{k: v for k, v in prop.items() if k not in ("$ref", "allOf")}}
    return prop, nullable


def kind_of(schema: dict) -> str:
    kind = schema.get("type")
    if kind == "boolean":
        return BOOL
    if kind == "array" and schema.get("items", {}).get("type") in ("string", "integer", "number", None):
        return LIST
    if kind in ("string", "integer", "number") or "enum" in schema:
        return VALUE
    return JSON


def is_model(schema: dict) -> bool:
    return schema.get("type") == "object" and bool(schema.get("properties"))


def build_options(flow, aliases: dict[str, tuple[str, ...]] | None = None,
                  negative_aliases: dict[str, tuple[str, ...]] | None = None) -> FlowOptions:
    """The options of `flow`'s parameters, grouped as the run form shows them."""
    aliases, negative_aliases = aliases or {}, negative_aliases or {}
    schema = flow.parameters.model_dump()
    definitions, required = schema.get("definitions", {}), set(schema.get("required", []))
    found = FlowOptions(flow, schema)
    props = sorted(schema["properties"].items(), key=lambda item: item[1].get("position", 0))
    generated = {kebab(name) for name, _ in props}

    def make(name: str, prop: dict, is_required: bool, flag: str) -> FlowOption:
        resolved, nullable = resolve(prop, definitions)
        extra = tuple(a for a in aliases.get(name, ()) if a not in generated)
        return FlowOption(name, (flag, *extra), resolved, kind_of(resolved), resolved.get("title") or name,
                          required=is_required, nullable=nullable, default=prop.get("default"),
                          has_default="default" in prop, negative_flags=negative_aliases.get(name, ()))

    top = f"{flow.name} parameters (the run form's fields, in its order)"
    for name, prop in props:
        resolved, _ = resolve(prop, definitions)
        if is_model(resolved):  # a section of its own in the form: a group of its own here
            title = f"{prop.get('title') or resolved.get('title') or name} ({name}: {kebab(name)}-FIELD)"
            fields = sorted(resolved["properties"].items(), key=lambda item: item[1].get("position", 0))
            group = [make(f"{name}.{child}", sub, False, kebab(f"{name}-{child}")) for child, sub in fields]
            found.groups[title] = group
            found.options += group
        else:
            option = make(name, prop, name in required, kebab(name))
            found.groups.setdefault(top, []).append(option)
            found.options.append(option)
    return found


def add_options(parser: argparse.ArgumentParser, found: FlowOptions) -> FlowOptions:
    """Add `found`'s options to `parser`, one argument group per form section. Arguments default to
    SUPPRESS: an option left out is not passed, and the flow's default applies."""
    for title, options in found.groups.items():
        group = parser.add_argument_group(title)
        for option in options:
            common = {"dest": option.dest, "default": argparse.SUPPRESS, "help": help_text(option)}
            if option.kind == BOOL:
                group.add_argument(*option.flags, action=argparse.BooleanOptionalAction, **common)
                for flag in option.negative_flags:
                    group.add_argument(flag, action="store_false", dest=option.dest, default=argparse.SUPPRESS,
                                       help=f"the same as --no-{option.flags[0][2:]}")
            elif option.kind == LIST:
                group.add_argument(*option.flags, action="append", metavar=metavar(option.schema["items"]), **common)
            else:
                group.add_argument(*option.flags, metavar=metavar(option.schema), **common)
    return found


def metavar(schema: dict) -> str:
    if "enum" in schema and len(schema["enum"]) <= 6:
        return "{" + ",".join(map(str, schema["enum"])) + "}"
    if "enum" in schema:
        return "CODE"
    if any("const" in (part.get("then") or {}) for part in schema.get("allOf", [])) or schema.get(
            "example", "").startswith("s3://"):
        return "S3_URI"
    return {"integer": "N", "number": "X", "string": "TEXT"}.get(schema.get("type"), "JSON")


def help_text(option: FlowOption) -> str:
    description = " ".join((option.schema.get("description") or "").split())
    first = option.title + (f": {description}" if description else "")
    parts = [first if first.endswith((".", "?", "!", ")")) and description else first + "."]
    if option.kind != BOOL and not (option.kind == VALUE and accepts_value(option.schema) == "text"):
        parts.append(f"Accepts {accepts(option)}.")  # a switch or a text field says so itself
    if option.required:
        parts.append("Required.")
    elif option.has_default:
        parts.append(f"Default: {shown(option.default)}.")
    return " ".join(parts).replace("%", "%%")


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "none"
    if value == "":
        return "empty"
    return json.dumps(value) if isinstance(value, dict) else str(value)


def accepts(option: FlowOption) -> str:
    """What an option accepts, in words, from its schema."""
    if option.kind == BOOL:
        return f"{option.flags[0]} or --no-{option.flags[0][2:]}"
    if option.kind == LIST:
        return f"a list of {accepts_value(option.schema['items'])} (repeat the option or separate with commas)"
    if option.kind == JSON:
        return "a JSON value"
    return accepts_value(option.schema) + (" (empty for none)" if option.nullable else "")


def accepts_value(schema: dict) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    for part in schema.get("allOf", []):
        if "const" in (part.get("then") or {}):
            return part["then"]["const"]  # the sentence the form answers a wrong value with
    kind = schema.get("type")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is not None and high is not None and "exclusiveMinimum" not in schema:
            return f"{noun} from {low:,} to {high:,}"
        bounds = [f"{'>' if 'exclusiveMinimum' in schema else '>='} {low:,}" if low is not None else "",
                  f"{'<' if 'exclusiveMaximum' in schema else '<='} {high:,}" if high is not None else ""]
        return " ".join([noun, " and ".join(b for b in bounds if b)]).strip()
    return "text" if kind == "string" else "a JSON value"


# --- values ----------------------------------------------------------------------------------------

def to_json(option: FlowOption, raw: Any) -> Any:
    """The command line's text as the JSON value the form would send; text that is not of the
    option's type stays text, so the form's check names the mistake in its own words."""
    if option.kind == BOOL:
        return raw
    if option.kind == LIST:
        items = [part.strip() for value in raw for part in str(value).split(",")]
        return [scalar(option.schema["items"], item) for item in items if item]
    if option.kind == JSON:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    if option.nullable and raw.strip().lower() in ("", "none", "null") and option.schema.get("type") != "string":
        return None
    return scalar(option.schema, raw)


def scalar(schema: dict, raw: str) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    return raw
