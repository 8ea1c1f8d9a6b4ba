"""Flow-run names say what a run processes, also when Prefect names the run itself."""
import pytest

from flows.run_names import input_label, name_for


def test_names_from_the_input():
    event_run = {"input_uri": "s3://sentinel-demo/inbox/x1.parquet"}
    assert name_for("translate-batch", event_run) == "translate inbox/x1.parquet"
    assert name_for("translate-batch", {"input_uri": "s3://sentinel-demo/inputs/daily/{scheduled_date}/"},
                    "2026-12-01") == "translate daily/2026-12-01/"
    assert name_for("speech-translate", {"input_uri": "s3://b/speech/"}) == "speech-translate speech/"
    assert input_label("s3://bucket/") == "bucket/" and name_for("transcribe-batch", {}) == "transcribe"


@pytest.mark.integration
def test_a_flow_run_is_named_after_its_input(prefect_stack):
    from prefect import flow
    from prefect.runtime import flow_run

    from flows.run_names import flow_run_name

    @flow(name="translate-batch-name-check", flow_run_name=flow_run_name)
    def named(input_uri: str) -> str:
        return flow_run.name

    assert named("s3://sentinel-demo/inbox/x1.parquet") == "translate-batch-name-check inbox/x1.parquet"
