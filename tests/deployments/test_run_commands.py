"""`sentinel translate | transcribe | speech-translate`: every parameter of every flow is an option
and reaches the flow unchanged; bad values are answered in the run form's words.

The parameters walked here come from each flow function's Python signature (inspect), not from
the CLI or a list kept here; a sample value for each comes from the flow's form schema."""
from __future__ import annotations

import inspect

import pytest

from deployments.cli import build_parser
from deployments.run_commands import ALIASES, NEGATIVE_ALIASES, RUN_COMMANDS, flow_kwargs, load_flow

COMMANDS = [c.name for c in RUN_COMMANDS]
REQUIRED = {"input_uri": "s3://bkt/in/", "output_uri": "s3://bkt/out/"}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def sample(prop: dict, name: str):
    """A valid value for a parameter, other than its default."""
    default = prop.get("default")
    if name.endswith("_uri"):
        return f"s3://bkt/{name}/"
    kind = prop.get("type")
    if "enum" in prop:
        return next(v for v in reversed(prop["enum"]) if v != default)
    if kind == "boolean":
        return not default
    if kind == "integer":
        high = prop.get("maximum", (default or 1) + 7)
        return high if high != default else high - 1
    if kind == "number":
        low, high = prop.get("minimum", 0), prop.get("maximum", (default or 1) * 3)
        return (low + high) / 2 if (low + high) / 2 != default else high
    if kind == "array":
        items = prop["items"]
        choices = items.get("enum") or ["col_a", "col b"]
        value = list(choices[-2:])
        return value if value != default else choices[:1]
    return f"{name}-given"


def argv_for(name: str, value) -> list[str]:
    if isinstance(value, bool):
        return [flag(name) if value else "--no-" + flag(name)[2:]]
    if isinstance(value, list):
        return [arg for item in value for arg in (flag(name), str(item))]  # repeated; commas: below
    return [flag(name), str(value)]


def parse(command: str, *argv: str) -> dict:
    return flow_kwargs(build_parser([command]).parse_args([command, *argv]))


def required_argv() -> list[str]:
    return [arg for name, value in REQUIRED.items() for arg in (flag(name), value)]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flow_parameter_is_an_option_and_reaches_the_flow_unchanged(command):
    flow, _ = load_flow(next(c for c in RUN_COMMANDS if c.name == command))
    names = list(inspect.signature(flow.fn).parameters)
    schema = flow.parameters.model_dump()["properties"]
    assert set(names) == set(schema) and len(names) > 20
    for name in names:
        value = sample(schema[name], name)
        argv = argv_for(name, value) + [a for n, v in REQUIRED.items() if n != name for a in (flag(n), v)]
        given = parse(command, *argv)
        assert given == {**{n: v for n, v in REQUIRED.items() if n != name}, name: value}, name
        assert flow.validate_parameters(given)[name] == value, name  # the flow takes it as it is
        if isinstance(value, list):  # commas say the same as repeats
            assert parse(command, *required_argv(), flag(name), ",".join(map(str, value)))[name] == value


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_list_value_is_the_empty_list(command):
    assert parse(command, *required_argv(), "--passthrough-columns", "")["passthrough_columns"] == []


def test_old_spellings_are_aliases_of_parameters_every_flow_has_where_used():
    for command in COMMANDS:
        flow, _ = load_flow(next(c for c in RUN_COMMANDS if c.name == command))
        params = set(inspect.signature(flow.fn).parameters)
        for name, flags in {**ALIASES, **NEGATIVE_ALIASES}.items():
            for alias in flags:
                if name in params and flag(name) != alias and alias.removeprefix("--") not in params:
                    value = False if alias.startswith("--no-") else ("whisper-base" if name == "asr_model"
                                                                   else "s3://bkt/aliased/")
                    argv = [alias] if value is False else [alias, value]
                    given = parse(command, *required_argv(), *argv)
                    assert given[name] == value, (command, alias)
    # translate-batch has its own `model`: there --model is that parameter, not asr_model
    assert parse("translate", *required_argv(), "--model", "echo") == {**REQUIRED, "model": "echo"}


def form_words(flow, values: dict) -> list[str]:
    """The errors the Prefect server answers the run form with, for `values`."""
    from prefect.utilities.schema_tools.validation import build_error_obj, preprocess_schema, validate

    found = build_error_obj(validate(values, preprocess_schema(flow.parameters.model_dump()), raise_on_error=False))
    words = []
    for entry in found["errors"]:
        for error in entry["errors"]:
            words += error["errors"] if isinstance(error, dict) else [error]
    return words


BAD = [  # (command, argv, the option the error names)
    ("translate", ["--input", "not-a-uri"], "--input-uri/--input"),
    ("translate", ["--shard-rows", "0"], "--shard-rows"),
    ("translate", ["--shard-rows", "many"], "--shard-rows"),
    ("translate", ["--target-lang", "xx"], "--target-lang"),
    ("translate", ["--candidate-source-langs", "de,zz"], "--candidate-source-langs item 2"),
    ("translate", ["--max-quarantined-share", "1.5"], "--max-quarantined-share"),
    ("transcribe", ["--max-audio-s", "0"], "--max-audio-s"),
    ("transcribe", ["--subtitles", "vtt,ass"], "--subtitles item 2"),
    ("speech-translate", ["--model", "whisper-huge"], "--asr-model/--model"),
    ("speech-translate", ["--translate-beam-size", "17"], "--translate-beam-size"),
]


@pytest.mark.parametrize(("command", "argv", "option"), BAD)
def test_bad_values_are_answered_in_the_forms_words_naming_the_option(command, argv, option, capsys):
    flow, _ = load_flow(next(c for c in RUN_COMMANDS if c.name == command))
    full = [*argv, *([] if argv[0] == "--input" else ["--input", REQUIRED["input_uri"]]),
            "--output", REQUIRED["output_uri"]]
    with pytest.raises(SystemExit) as exited:
        parse(command, *full)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    args = build_parser([command]).parse_args([command, *full])
    [words] = form_words(flow, args.options.parameters(args))  # the values as the form would send them
    line = next(line for line in err.splitlines() if line.strip().startswith(option + ":"))
    assert words in line  # the form's own sentence, after the option
    if "is not one of" not in words:  # the form lists an enum's choices itself
        assert " accepts " in line  # else the option says what it accepts


def test_missing_required_parameters_name_their_options(capsys):
    with pytest.raises(SystemExit):
        parse("translate", "--output", "s3://bkt/out/")
    assert "--input-uri/--input: 'input_uri' is a required property" in capsys.readouterr().err


def test_help_groups_options_as_the_form_and_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        build_parser(["translate"]).parse_args(["translate", "--help"])
    out = capsys.readouterr().out
    assert "translate-batch parameters (the run form's fields, in its order):" in out
    assert "--shard-rows N" in out and "Rows per shard:" in out and "Default: 20000." in out
    assert "--guards, --no-guards" in out and "--dry-run" in out
    positions = [out.index(f"  {flag(n)}") for n in ("input_uri", "target_lang", "shard_rows", "fail_on_empty_input")]
    assert positions == sorted(positions)  # the form's order
