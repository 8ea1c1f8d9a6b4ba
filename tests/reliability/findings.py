"""What the chaos suite found, with the fix proposed for each; rendered into docs/reliability.md.
A finding is shown as open while the measurements still show it, else as not observed."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    title: str
    scenario: str
    observed: Callable[[dict], bool]  # on that scenario's figures
    body: str
    changed: bool = False  # this suite changed the code: shown (as a change) even when no longer observed


def _not_held(kind: str) -> Callable[[dict], bool]:
    return lambda s: kind in s.get("kinds_not_held", [])


FINDINGS = [
    Finding(
        "A corrupt parquet footer crashes the whole run", "bad_input",
        _not_held("corrupt parquet footer (thrift metadata)"),
        "An object whose magic bytes are intact but whose footer metadata is garbled makes pyarrow raise "
        "`OSError: Couldn't deserialize thrift: …`. `read_footer` (**tasks/engine/planning.py**, the `except` of "
        "`read_footer`) only turns `ArrowInvalid` or messages containing `Parquet`/`magic` into `InputError`, so "
        "`plan-shards` fails three times and `plans.result()` in **flows/translate_batch.py** raises: the run "
        "crashes with no manifest and the good objects of the same run are not processed.\n\n"
        "Fix (two parts): in `read_footer`, re-raise only transient errors and call everything else bad input —\n\n"
        "```python\nexcept (pa.ArrowInvalid, OSError) as exc:\n    if isinstance(exc, FileNotFoundError):\n"
        "        raise InputError(f\"{obj.uri}: object disappeared after listing\") from exc\n"
        "    if isinstance(exc, (ConnectionError, TimeoutError)) or \"AWS Error\" in str(exc):\n"
        "        raise  # S3 trouble: the task retries\n"
        "    raise InputError(f\"{obj.uri}: not a readable parquet file ({exc})\") from exc\n```\n\n"
        "and in `translate_batch` / `run_audio_job` read each plan future's state instead of `plans.result()`, "
        "recording a failed plan as that object's `error` in the manifest, so one object can never sink the run."),
    Finding(
        "Invalid UTF-8 in one text cell fails its whole shard", "bad_input",
        _not_held("invalid UTF-8 in a text cell"),
        "Parquet readers do not validate UTF-8, so a string cell with invalid bytes reaches the shard. The "
        "first consumer to convert it to Python (today the input suite: `check_input` in "
        "**tasks/quality/shard_checks.py** → `validate_input` in **tasks/quality/validate.py** → pandas hashing; next "
        "`record.column(...).to_pylist()` in `translate_record_batch`, **tasks/translate/batch.py**) raises "
        "`ArrowException: Wrapping … failed` / `UnicodeDecodeError`. The shard fails twice and every other row of "
        "that shard is missing from the outputs (listed as a failed shard in the manifest, so nothing is silent, "
        "but good rows wait for a rerun that fails the same way).\n\n"
        "Fix: repair at the reader, quarantine the row. In `_read_slice` (**tasks/io/reader.py**), for each "
        "string column of a batch `try: column.validate(full=True) except pa.ArrowInvalid:` cast it to binary "
        "(zero-copy), decode each value with `errors=\"replace\"`, and carry the bad row indexes (e.g. in the "
        "batch's schema metadata `sentinel.invalid_utf8`); `classify_rows` in **tasks/translate/batch.py** then "
        "fails those rows with `text is not valid UTF-8` so they land in the quarantine with a reason."),
    Finding(
        "boto3's retry settings gave up after ~3 s of S3 outage", "s3_outage_seaweedfs_killed",
        lambda s: s.get("task_runs_retried", 0) > 0,
        "With `retries={\"mode\": \"adaptive\", \"max_attempts\": 8}` botocore backs off from 50 ms on connection "
        "errors and 5xx (1 s only for throttling codes) and all threads of a process share one client, hence one "
        "500-token retry quota (14 per retry). Measured with 8 concurrent requests against a port that opened "
        "after 5 / 15 / 30 s: adaptive/8 and standard/12 recovered 0/8 requests every time; legacy/8 recovered "
        "8/8 every time (pyarrow's reads, `AwsStandardS3RetryStrategy(8)`, rode out 20 s on their own). During the "
        "SeaweedFS kill, uploads failed with `EndpointConnectionError` and only the shard task's single retry "
        "(10 s later) saved the run. **Changed** in **tasks/io/s3.py**: `retries={\"max_attempts\": 8, \"mode\": "
        "\"legacy\"}` (exponential backoff from ~1 s for every retryable error, no shared quota). After the "
        "change the same scenario (S3 down ~20 s) completed with 0 task retries.", changed=True),
    Finding(
        "A SIGKILLed flow run stays `Running` in Prefect", "flow_kill",
        lambda s: s.get("killed_run_state_in_prefect") == "Running" and not s.get("killed_run_crashed_after_s"),
        "Nothing marks a flow run whose process died without a worker watching it (run in-process, or worker and "
        "run lost together, e.g. a node): the dead run shows `Running` for ever and, for a deployment with a "
        "concurrency limit (`translate-on-upload` has 8), keeps its slot — after 8 such crashes the S3-triggered "
        "deployment starts nothing. The data side is fine (the rerun reuses every committed shard). Fix "
        "(deployment config, no code): set `PREFECT_RUNNER_HEARTBEAT_FREQUENCY=30` in the work pools' job "
        "environment and add Prefect's zombie automation (proactive trigger: `prefect.flow-run.heartbeat` not "
        "seen for 90 s after one → change state to Crashed) in `deployments/deploy_local.py`."),
    Finding(
        "Spool files left behind by a killed process", "flow_kill",
        lambda s: s.get("spool_files_after_rerun", s.get("spool_files_left_by_kill", 0)) > 0,
        "`PartWriter` (**tasks/io/part_writer.py**) spools each part to a local file and deletes it in "
        "`commit`/`abort`, which a SIGKILL skips: a crash-looping pod leaks a part per in-flight shard each time. "
        "Fix: spool into a per-process directory and, when creating it, remove those of dead processes."),
    Finding(
        "The data-quality suites dominate event-driven runs", "event_burst_10_quality_on",
        lambda s: (s.get("run_time_p50_s") or 0) > 5,
        "Every flow-run process pays the Great Expectations import (~6.5 s CPU) and context set-up. Bursts of "
        "3-row objects on 2 shared cores: with the suites on, {runs_per_minute} runs/min and a flow-run time p50 "
        "of {run_time_p50_s} s ({events} events, {worker_limit} concurrent; before GE was warmed up during "
        "listing and planning: 3.0 runs/min, p50 28 s); with them off, ~11 runs/min and p50 1.9 s (the burst runs "
        "with `data_quality: false` to measure the orchestration). The fault scenarios keep the suites on. Since "
        "the bridge batches uploads (one run per window of up to 500 objects, `translate-on-upload`), that fixed "
        "cost is paid once per batch, not once per object; `sentinel bridge --batch-objects 1` brings it back."),
    Finding(
        "A graceful Triton stop failed rows, and a rerun kept them failed (issue 17)",
        "triton_graceful_restart_transcribe_batch", lambda s: s.get("rows_failed", 0) > 0,
        "While tritonserver drains after SIGTERM it unloads its models and answers `Request for unknown model: "
        "'transcribe' has no available versions` (NOT_FOUND). The client retried only UNAVAILABLE, "
        "DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and ABORTED and raised `TritonRequestRejected` for anything else, "
        "so those requests' rows ended `failed` like bad clips, their shards were committed, and a rerun reused "
        "the parts (issue 17: 40 of 80 clips). Changed: `tasks/inference/errors.py` classifies by cause (the exact "
        "Triton 2.51 messages), `TritonClient` waits for the model's readiness through drains, restarts and "
        "reloads, and raises `TritonRequestRejected` only for what the request carries; a transient state that "
        "outlasts the bounds fails the shard (not committed), never a row.", changed=True),
]

NOTES = """\
## Notes

- **Keys with control characters or `..`** are rejected at listing (`tasks/io/listing.py` → `validate_key`):
  the whole run is refused with an error naming the key, before any inference, and writes nothing.
  That is fail-fast rather than per-object: good objects under the same prefix wait until the key is
  removed. SeaweedFS itself refuses to store `.`/`..` segments; moto (like AWS) accepts them, which is
  why that case runs against moto.
- **Unknown language codes** are refused by the flow's parameter validation (`LanguageCode`); a valid
  code with no model (`es`) quarantines each row with Triton's reason, listing the available pairs.
- **Triton restarts**: a server or model that is not ready (connection refused, draining, unloaded) is
  waited for by polling the model's readiness, up to `ready_timeout_s` (180 s) per request, then one
  shard-task retry 10 s later; overload and timeouts get 6 retries (0.5 s doubling to 20 s, jittered).
  An outage up to ~6 min completes without a rerun; a longer one fails its shards (no row) for a rerun.
- **Wall time** (2 cores shared with other work): the whole suite was 23 min while the burst was one
  run per event (the 200-event burst alone 18 min, ~11 runs/min); the bridge now batches, and the
  1,000-upload burst takes ~1.5 min (2 runs of 500 objects, most of it the 1,000 PUTs), everything else
  ~5.5 min (private stack start ~40 s, 15 flow runs). In CI, `make chaos PYTEST_ARGS="-k 'not burst'"`
  (~5.5 min) as a smoke test, `make chaos` nightly.
"""


def findings_markdown(scenarios: dict) -> list[str]:
    open_, closed = [], []
    for finding in FINDINGS:
        figures = scenarios.get(finding.scenario)
        if figures is None:
            continue
        (open_ if finding.observed(figures) else closed).append(finding)
    lines = ["## Findings", ""]
    for n, finding in enumerate(open_, 1):
        lines += [f"### {n}. {finding.title}", "", finding.body.format(**scenarios[finding.scenario]), ""]
    for finding in (f for f in closed if f.changed):
        lines += [f"### Changed: {finding.title}", "", finding.body, ""]
    rest = [f for f in closed if not f.changed]
    if rest:
        lines += ["Found by this suite, not observed in the last measurements (fixed since, or the condition did "
                  "not arise): "
                  + "; ".join(f.title for f in rest) + ".", ""]
    return lines + [NOTES]
