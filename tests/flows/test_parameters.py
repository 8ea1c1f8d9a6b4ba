"""The flows' parameter types as Prefect's form sees them: the schema Prefect builds, the server's
own validation (the form's error messages come from it), and — with Debian's Chromium and npm's
playwright-core installed — the form itself in a real browser (screenshots: docs/img/)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import build_error_obj, preprocess_schema, validate

from flows.parameters import S3_URI_EXPECTED
from tests.flows.ui.form_probe import form_probe

UI = Path(__file__).parent / "ui"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def probe_schema() -> dict:
    return parameter_schema(form_probe.fn).model_dump()


def errors_for(values: dict) -> dict:
    return build_error_obj(validate(values, preprocess_schema(probe_schema()), raise_on_error=False))


def test_schema_has_titles_one_language_list_and_plain_optional_names():
    props = probe_schema()["properties"]
    assert [props[k]["title"] for k in ("input_uri", "source_lang", "guard_settings")] == [
        "Input", "Source language", "MT guards block"]
    assert props["source_lang"]["enum"][0] == "auto" and "de" in props["source_lang"]["enum"]
    assert "anyOf" not in props["source_lang"]
    assert props["guard_settings"]["type"] == "string" and "anyOf" not in props["guard_settings"]


def test_uri_error_is_a_sentence_not_a_regex():
    [error] = errors_for({"input_uri": "not-a-uri"})["errors"]
    assert error == {"property": "input_uri", "errors": [f"'{S3_URI_EXPECTED}' was expected"]}
    assert errors_for({"input_uri": "s3://sentinel-demo/inputs/daily/{scheduled_date}/", "guard_settings": ""}) == {
        "errors": [], "valid": True}


def test_flow_side_checks_say_the_same_and_empty_names_are_none(prefect_stack):
    assert form_probe("s3://sentinel-demo/in/", guard_settings="  ")["guard_settings"] is None
    state = form_probe("not-a-uri", return_state=True)
    assert state.is_failed() and f"'not-a-uri' is not {S3_URI_EXPECTED}" in state.message


def browser_available() -> bool:
    if not shutil.which("chromium") or not shutil.which("node"):
        return False
    env = dict(os.environ, NODE_PATH=node_path())
    return subprocess.run(["node", "-e", "require('playwright-core')"], env=env, capture_output=True).returncode == 0


def node_path() -> str:
    found = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True) if shutil.which("npm") else None
    return os.environ.get("NODE_PATH") or (found.stdout.strip() if found else "")


def check_form(deployment_id, out_dir: Path) -> dict:
    url = f"{os.environ['PREFECT_API_URL'].removesuffix('/api')}/deployments/deployment/{deployment_id}/run"
    done = subprocess.run(["node", str(UI / "form_check.js"), url, str(out_dir)], capture_output=True, text=True,
                          env=dict(os.environ, NODE_PATH=node_path()), timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


browser = pytest.mark.skipif(not browser_available(), reason="needs chromium (apt) and playwright-core (npm -g)")


@pytest.mark.integration
@browser
def test_the_form_in_a_real_browser(prefect_stack, tmp_path):
    deployment_id = form_probe.to_deployment(name="form-check").apply()
    seen = check_form(deployment_id, tmp_path)
    assert {"Input", "Source language (Optional)", "MT guards block (Optional)"} <= set(seen["labels"])
    assert not seen["none_tab"]
    assert seen["source_lang"]["choices"][:3] == ["auto", "en", "de"] and not seen["source_lang"]["tabs"]
    assert seen["shown"] == [f"'{S3_URI_EXPECTED}' was expected"]


@pytest.mark.integration
@browser
def test_the_translate_batch_deployment_form(prefect_stack, tmp_path):
    """The deployment `sentinel deploy-local` made, as a user opens it."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name("translate-batch/translate-batch")
        except ObjectNotFound:
            pytest.skip("no translate-batch deployment: run `sentinel deploy-local`")
    seen = check_form(deployment.id, tmp_path)
    if os.environ.get("SENTINEL_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(exist_ok=True)
        for name in ("form.png", "form-source-lang.png", "form-uri-error.png"):
            shutil.copy(tmp_path / name, DOCS_IMG / f"translate-batch-{name}")
    assert {"Input", "Output", "Source language (Optional)"} <= set(seen["labels"])
    assert not seen["none_tab"]
    assert seen["source_lang"]["choices"][:3] == ["auto", "en", "de"] and not seen["source_lang"]["tabs"]
    assert seen["shown"] == [f"'{S3_URI_EXPECTED}' was expected"]
