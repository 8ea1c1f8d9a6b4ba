"""Typed flow parameters shared by the flows: they render as forms in the Prefect UI.

Prefect builds a deployment's form from the flow's JSON schema and checks the values against it
on the server (jsonschema), so these types shape their schema for a person reading the form:

- `SourceLanguage` is one choice list, `auto` first, not a union rendered as two tabs;
- `S3Prefix` says what is wrong in words: a value that is not an s3:// URI is answered
  "'an s3:// URI such as s3://my-bucket/inputs/' was expected", not with a regular expression;
  the flow checks the same rule (pydantic) with the same words;
- `OptionalName` (block names, optional column names) is a plain text field that may stay empty
  (empty = None), not a string / None union whose second tab reads 'Property is type "None"'; its
  default is "" or a name, never None (a string field refuses the null the form would send back);
- `Param(title, ...)` sets the label the form shows (Prefect overrides a `Field(title=...)` with
  the parameter's name; the title given here goes into the schema after that).
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic.fields import FieldInfo

LanguageCode = Literal[
    "en", "de", "fr", "es", "it", "nl", "pt", "pl", "cs", "sv", "da", "fi", "ro", "hu", "el", "bg",
    "ru", "uk", "tr", "ar", "he", "hi", "zh", "ja", "ko", "vi", "th", "id",
]
AUTO = "auto"
SourceLanguage = Literal[(AUTO, *get_args(LanguageCode))]  # one enum: `auto` and every code
SpokenLanguage = SourceLanguage  # Whisper's language: `auto` or a code, the same one list
TranslateModel = Literal["translate", "echo"]

S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"
S3_URI_EXPECTED = "an s3:// URI such as s3://my-bucket/inputs/"


def check_s3_uri(value: Any) -> Any:
    """The flow-side check, in the words the form uses."""
    if isinstance(value, str) and not re.match(S3_URI_PATTERN, value):
        raise ValueError(f"{value!r} is not {S3_URI_EXPECTED} (s3://, a bucket name of 3-63 lowercase "
                         "letters, digits, dots or dashes, then an optional /prefix)")
    return value


# jsonschema has no custom messages; `const` is the one check whose message quotes the schema's
# own words ("'<const>' was expected"), so a value failing the pattern must equal a sentence. It
# sits inside `allOf`: the UI forwards `allOf` to the server's check as it is (it drops `pattern`,
# `if` and `then` at the top level), so the form shows the sentence under the field.
S3_URI_SCHEMA = {"type": "string", "example": "s3://my-bucket/inputs/",
                 "allOf": [{"if": {"not": {"pattern": S3_URI_PATTERN}}, "then": {"const": S3_URI_EXPECTED}}]}
S3Prefix = Annotated[str, BeforeValidator(check_s3_uri), WithJsonSchema(S3_URI_SCHEMA)]


def blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# A plain text field; empty means None. Declare such a parameter with the default "" (or a name),
# not None: the form sends a null default back as null, and a string field refuses null.
OptionalName = Annotated[str | None, BeforeValidator(blank_is_none), WithJsonSchema({"type": "string"})]


def Param(title: str, description: str | None = None, **constraints: Any) -> FieldInfo:
    """`Field(title=..., description=..., **constraints)` whose title the Prefect form shows as the label."""
    return Field(title=title, description=description, json_schema_extra={"title": title}, **constraints)
