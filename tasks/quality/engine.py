"""One quiet Great Expectations 1.x ephemeral context per process: a pandas datasource with one
dataframe asset and one whole-dataframe batch definition, built on first use and shared by every
suite. GE's execution engine keeps the batch it is validating as shared state, so validations
in one process run one at a time under a lock (shards validate from a thread pool).

Fast path: a suite first runs with result_format BOOLEAN_ONLY (no unexpected-value metrics);
only the expectations that failed run again, with SUMMARY, to collect counts, values and row
indexes. GE's cost is mostly per expectation (building its metric graph), not per row, so a
passing shard pays the cheapest validation there is and a failing one little more.

We call GE's `Validator` (great_expectations.validator.v1_validator) directly: it is what both
`Batch.validate` and `ValidationDefinition.run` use inside. `get_batch(...).validate(...)` loads
the dataframe twice (for the Batch, then again in the Validator it makes: ~17 ms more per call)
and `ValidationDefinition.run` also stores every result in the context's in-memory results
store, which would grow without bound over thousands of shards.
"""
from __future__ import annotations

import copy
import logging
import os
import threading
import warnings
from typing import TYPE_CHECKING, Any

# No usage statistics, no GE warnings (GE emits deprecation/user warnings from its own modules).
os.environ["GX_ANALYTICS_ENABLED"] = "false"
warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")

if TYPE_CHECKING:
    import pandas as pd

    from tasks.quality.suites import Suite

DATASOURCE_NAME = "sentinel_quality"
ASSET_NAME = "shard_frame"
BATCH_DEFINITION_NAME = "whole_frame"
PARTIAL_UNEXPECTED_COUNT = 5
POSITION_KEY = "sentinel_position"  # in each expectation's meta: its place in the suite
SUMMARY_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}

GX_LOCK = threading.RLock()  # every GE call in the process: validations and suite building
_engine: GxEngine | None = None


class GxEngine:
    """The context, datasource and batch definition, built once."""

    def __init__(self) -> None:
        quiet_gx_logging()
        with warnings.catch_warnings():  # GE's dependencies warn on import (sre_parse, ...)
            warnings.simplefilter("ignore")
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        datasource = self.context.data_sources.add_pandas(DATASOURCE_NAME)
        asset = datasource.add_dataframe_asset(ASSET_NAME)
        self.batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)

    def validate(self, frame: pd.DataFrame, suite: Any, parameters: dict | None = None) -> Any:
        """An ExpectationSuiteValidationResult, results in suite order: BOOLEAN_ONLY results for
        the expectations that pass, SUMMARY results for those that fail."""
        import great_expectations as gx

        result = self._run(frame, suite, parameters, "BOOLEAN_ONLY")
        if not result.success:
            failed = {position(r) for r in result.results if not r.success}
            details = gx.ExpectationSuite(name=suite.name, expectations=[
                copy.copy(e) for e in suite.expectations if e.meta.get(POSITION_KEY) in failed])
            detailed = self._run(frame, details, parameters, SUMMARY_FORMAT)
            result.results = [r for r in result.results if r.success] + list(detailed.results)
        result.results = sorted(result.results, key=position)
        return result

    def _run(self, frame, suite, parameters, result_format):
        from great_expectations.validator.v1_validator import Validator

        validator = Validator(batch_definition=self.batch_definition,
                              batch_parameters={"dataframe": frame}, result_format=result_format)
        return validator.validate_expectation_suite(suite, parameters or None)


class _ForwardErrors(logging.Handler):
    """Passes GE's ERROR records on to our logger (and so to the root / Prefect handlers)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(__name__).handle(record)


def quiet_gx_logging() -> None:
    """GE logs INFO from modules that set their own logger level (e.g. 'Created temporary
    directory ... for ephemeral docs site'), so raising the package logger's level is not enough:
    stop propagation at the package logger and forward only errors."""
    gx_logger = logging.getLogger("great_expectations")
    if not any(isinstance(h, _ForwardErrors) for h in gx_logger.handlers):
        gx_logger.addHandler(_ForwardErrors())
    gx_logger.propagate = False


def position(validation_result: Any) -> int:
    return validation_result.expectation_config.meta.get(POSITION_KEY, 0)


def gx_engine() -> GxEngine:
    global _engine
    with GX_LOCK:
        if _engine is None:
            _engine = GxEngine()
        return _engine


def warm_up_in_background() -> threading.Thread:
    """Import GE and build its context (~3-5 s of CPU) in a daemon thread, so that the first shards
    do not wait: worth it only where every shard goes to GE (ge-full)."""
    thread = threading.Thread(target=gx_engine, name="gx-warm-up", daemon=True)
    thread.start()
    return thread


def run_suite(frame: pd.DataFrame, suite: Suite, parameters: dict | None = None) -> Any:
    """Validate `frame` against a suite with GE (its ExpectationSuiteValidationResult); thread-safe."""
    with GX_LOCK:
        return gx_engine().validate(frame, gx_suite(suite), parameters)


_gx_suites: dict[Suite, Any] = {}  # a Suite hashes by identity (suites.py caches each one)


def gx_suite(suite: Suite) -> Any:
    """The GE ExpectationSuite of a plain suite (tasks/quality/suites.py), built once per suite:
    each expectation from GE's registry with its type and kwargs, its position in `meta`."""
    with GX_LOCK:
        if suite not in _gx_suites:
            gx_engine()  # imports GE quietly; GE wants an active context even for an unsaved suite
            import great_expectations as gx
            from great_expectations.expectations.registry import get_expectation_impl

            expectations = [get_expectation_impl(e.type)(**e.kwargs, meta={POSITION_KEY: e.position})
                            for e in suite.expectations]
            _gx_suites[suite] = gx.ExpectationSuite(name=suite.name, expectations=expectations)
        return _gx_suites[suite]
