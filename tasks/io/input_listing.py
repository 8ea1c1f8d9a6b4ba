"""What `list_input` (tasks/io/inputs.py) found: the objects of a run, what was left out and why,
warnings, and a table's identity."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from tasks.io.listing import ObjectRef
from tasks.io.object_table import ObjectTable, object_table

ICEBERG_METADATA = re.compile(r"^metadata/(?:v(\d+)|(\d+)-[^/]*)\.metadata\.json$")
# the skipped objects a run record names one by one; past this, counted (a Delta folder can hold
# thousands of replaced files)
MAX_SKIPPED_NAMED = 1000


@dataclass
class InputListing:
    # given as ObjectRefs, held as columns (object_table: a run keeps its listing to the manifest)
    objects: ObjectTable | list[ObjectRef]
    layout: str  # "object", "folder", "delta", "iceberg", "list"
    skipped: list[dict] = field(default_factory=list)  # {"uri", "reason"}
    warnings: list[str] = field(default_factory=list)
    table: dict | None = None  # {"format": "delta", "version": 3} / {"format": "iceberg", "snapshot_id": …}

    def __post_init__(self) -> None:
        self.objects = object_table(self.objects)

    @property
    def partition_columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for partition in self.objects.partitions():
            seen.update((name, None) for name, _, _ in partition)
        return list(seen)

    def record(self) -> dict:
        """What the run record (manifest, report) says about the input."""
        return {"layout": self.layout, "table": self.table, "objects": len(self.objects),
                "skipped_count": len(self.skipped), "skipped": self.skipped[:MAX_SKIPPED_NAMED],
                "warnings": self.warnings, "partition_columns": self.partition_columns}
