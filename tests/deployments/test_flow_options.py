"""Options generated from a flow's form schema, for the shapes the batch flows do not use (yet): a
pydantic model parameter (its own section in the form, its own option group here), an optional
number, a dict."""
from __future__ import annotations

import argparse
from typing import Annotated, Literal

import pytest
from prefect import flow
from pydantic import BaseModel, Field

from deployments.flow_options import add_options, build_options
from flows.parameters import Param


class Tuning(BaseModel):
    """Decoding knobs."""

    beam: int = Field(2, ge=1, le=8, title="Beam", description="beam width")
    mode: Literal["fast", "exact"] = "fast"
    stop_words: list[str] = []


EXACT = Tuning(mode="exact")  # a default other than the model's own


@flow(name="options-probe")
def probe(
    name: Annotated[str, Param("Name")],
    tuning: Annotated[Tuning, Param("Tuning", "how to decode")] = EXACT,
    limit: int | None = None,
    weights: dict[str, int] = {},  # noqa: B006 - a flow parameter's default, as in flows/
) -> None:
    pass


def parsed(*argv: str):
    parser = argparse.ArgumentParser(prog="probe", argument_default=argparse.SUPPRESS)
    options = add_options(parser, build_options(probe))
    args = parser.parse_args(list(argv))
    given = options.parameters(args)
    return given, options.errors(given), parser


def test_a_model_parameter_is_a_group_of_field_options_merged_into_its_default():
    given, errors, parser = parsed("--name", "x", "--tuning-beam", "4", "--tuning-stop-words", "a,b")
    assert errors == []
    assert given == {"name": "x", "tuning": {"beam": 4, "mode": "exact", "stop_words": ["a", "b"]}}
    assert probe.validate_parameters(given)["tuning"] == Tuning(beam=4, mode="exact", stop_words=["a", "b"])
    assert any(group.title.startswith("Tuning (tuning: --tuning-FIELD)") for group in parser._action_groups)


def test_a_bad_field_names_its_option_in_the_forms_words():
    _, errors, _ = parsed("--name", "x", "--tuning-beam", "9", "--tuning-mode", "slow")
    assert "--tuning-beam: 9 is greater than the maximum of 8 (Beam accepts an integer from 1 to 8)" in errors
    assert any(e.startswith("--tuning-mode: 'slow' is not one of ['fast', 'exact']") for e in errors)


def test_optional_numbers_take_none_and_dicts_take_json():
    given, errors, _ = parsed("--name", "x", "--limit", "none", "--weights", '{"a": 1}')
    assert errors == [] and given == {"name": "x", "limit": None, "weights": {"a": 1}}
    _, errors, _ = parsed("--name", "x", "--weights", "a=1")
    assert errors == ["--weights: 'a=1' is not of type 'object' (weights accepts a JSON value)"]


@pytest.mark.parametrize("argv", [["--limit", "3"], ["--name", "x", "--limit", "3"]])
def test_only_what_is_given_is_passed(argv):
    given, _, _ = parsed(*argv)
    assert set(given) == {a[2:] for a in argv if a.startswith("--")}
