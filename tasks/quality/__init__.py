"""Data-quality suites (Great Expectations 1.x) for a shard's input and output; see
docs/data_quality.md. Importing this package does not import GE (~3.5 s): the first shard the Arrow
pass finds something in does (a run whose shards all pass never imports it).

    from tasks.quality import InputSpec, OutputSpec, validate_input, validate_output
    validate_input(table, InputSpec(text_column="text"), "s3://b/k rows 0–5000").raise_for_failure()
"""
from tasks.quality.engine import warm_up_in_background
from tasks.quality.outcomes import ExpectationOutcome, RowExample
from tasks.quality.report import publish_quality_artifact, quality_markdown, quality_target, write_quality_result
from tasks.quality.result import InputQualityError, OutputQualityError, QualityResult
from tasks.quality.specs import STATUSES, InputSpec, OutputSpec
from tasks.quality.validate import validate_input, validate_output

__all__ = [
    "ExpectationOutcome", "InputQualityError", "InputSpec", "OutputQualityError", "OutputSpec", "QualityResult",
    "RowExample", "STATUSES", "publish_quality_artifact", "quality_markdown", "quality_target", "validate_input",
    "validate_output", "warm_up_in_background", "write_quality_result",
]
