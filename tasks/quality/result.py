"""What a suite run found: one `ExpectationOutcome` per expectation, a `QualityResult` per suite
run, with a one-line `message()` and a JSON document (our summary + GE's own result)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from tasks.io.parquet import InputError
from tasks.quality.messages import describe_failures
from tasks.quality.outcomes import ExpectationOutcome


class InputQualityError(InputError):
    """A shard's input failed its suite: stop that object before inference."""

    def __init__(self, result: QualityResult | str, summary: dict | None = None):
        super().__init__(result if isinstance(result, str) else result.message())
        self.summary = summary if isinstance(result, str) else result.summary()

    def __reduce__(self):  # picklable for Prefect's result storage: the message and the summary
        return (type(self), (str(self), self.summary))


class OutputQualityError(RuntimeError):
    """A shard's output failed its suite: fail the run."""

    def __init__(self, result: QualityResult | str, summary: dict | None = None):
        super().__init__(result if isinstance(result, str) else result.message())
        self.summary = summary if isinstance(result, str) else result.summary()

    def __reduce__(self):  # picklable for Prefect's result storage: the message and the summary
        return (type(self), (str(self), self.summary))


@dataclass
class QualityResult:
    suite: str
    kind: str  # "input" | "output"
    source: str
    success: bool
    rows: int
    outcomes: list[ExpectationOutcome]
    seconds: float = 0.0
    gx_result: dict = field(default_factory=dict, repr=False)  # GE's ExpectationSuiteValidationResult
    gx_rows: int | None = None  # rows GE validated: all of them, or 0 for a shard the Arrow pass passed (validate.py)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def message(self) -> str:
        if self.success:
            return f"{self.source}: {self.suite} suite passed ({len(self.outcomes)} expectations, {self.rows} rows)"
        return f"{self.source}: {describe_failures(self.failures)}"

    def raise_for_failure(self) -> None:
        if not self.success:
            raise (InputQualityError if self.kind == "input" else OutputQualityError)(self)

    def summary(self) -> dict:
        """Small and picklable: what the markdown artifact and the run report need."""
        return {
            "suite": self.suite, "kind": self.kind, "source": self.source, "success": self.success,
            "rows": self.rows, "expectations": len(self.outcomes), "seconds": round(self.seconds, 4),
            "failed": [failure_label(o) for o in self.failures], "message": self.message(),
        }

    def to_json_dict(self) -> dict:
        return {"summary": self.summary(), "expectations": [o.to_dict() for o in self.outcomes],
                "great_expectations": self.gx_result, "ge_rows": self.rows if self.gx_rows is None else self.gx_rows}

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), indent=2, sort_keys=True, default=str)


def failure_label(outcome: ExpectationOutcome) -> str:
    column = f"({outcome.column})" if outcome.column else ""
    count = f": {outcome.unexpected_count} unexpected" if outcome.unexpected_count else ""
    return f"{outcome.expectation}{column}{count}"
