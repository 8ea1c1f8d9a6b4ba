"""Typed flow parameters shared by the flows: they render as forms in the Prefect UI."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

LanguageCode = Literal[
    "en", "de", "fr", "es", "it", "nl", "pt", "pl", "cs", "sv", "da", "fi", "ro", "hu", "el", "bg",
    "ru", "uk", "tr", "ar", "he", "hi", "zh", "ja", "ko", "vi", "th", "id",
]
SourceLanguage = Literal["auto"] | LanguageCode
TranslateModel = Literal["translate", "echo"]

S3Prefix = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")]
