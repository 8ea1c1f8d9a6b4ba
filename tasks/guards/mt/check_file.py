"""Translations made elsewhere, scored from tables and files (`sentinel check-mt`): the required
columns, CSV or parquet read in chunks so memory stays flat, and the scored table written out.

score_table(table, settings) -> table + hallucination_score, flagged, reasons, flagged_sentences (+ <detector>_score)
check_mt_file(input_path, output_path, settings) -> CheckSummary"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.guards.mt.checker import DETECTOR_NAMES, score_documents, score_sentence_groups
from tasks.guards.mt.settings import MTGuardSettings
from tasks.guards.text import normalise_lang

REQUIRED_COLUMNS = ("src", "mt", "src_lang", "tgt_lang")
OUTPUT_COLUMNS = ("hallucination_score", "flagged", "reasons", "flagged_sentences")
CHECK_CHUNK_ROWS = 10_000  # rows check-mt scores at a time (texts and their embeddings in memory)


@dataclass(frozen=True)
class CheckSummary:
    input_path: str
    output_path: str
    rows: int
    flagged: int
    seconds: float
    # target-language codes (as normalised; '' = missing) the language check does not know -> rows with a
    # translation: their output language was not checked
    languages_not_checked: dict[str, int] = field(default_factory=dict)


class MissingColumnsError(ValueError):
    pass




def require_columns(table: pa.Table, source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise MissingColumnsError(
            f"{source}: missing required column(s) {', '.join(map(repr, missing))} "
            f"(need {', '.join(REQUIRED_COLUMNS)}, optional logprob; found {', '.join(table.column_names) or 'none'})"
        )


def _strings(table: pa.Table, name: str) -> list[str]:
    return pc.cast(table.column(name), pa.string()).to_pylist()


def score_table(
    table: pa.Table, settings: MTGuardSettings | None = None, detector_columns: bool = True, source: str = "table",
    segment: bool = True,
) -> pa.Table:
    """The input table, every column unchanged, plus hallucination_score, flagged, reasons,
    flagged_sentences and (detector_columns) one `<detector>_score` column per detector (the worst
    sentence's). `segment`: texts are split into sentences, aligned and judged per sentence (the
    pipeline's path, score_documents); False scores each row as one unit. Existing output columns are replaced."""
    require_columns(table, source)
    settings = settings or MTGuardSettings()
    logprob = pc.cast(table.column("logprob"), pa.float64()).to_pylist() if "logprob" in table.column_names else None
    src, mt, src_lang, tgt_lang = (_strings(table, c) for c in REQUIRED_COLUMNS)
    if segment:
        verdicts = score_documents(src, mt, src_lang, tgt_lang, logprob, settings)
    else:
        n = table.num_rows
        verdicts = score_sentence_groups(src, mt, src_lang, tgt_lang, logprob, range(n), n, settings)
    added = {
        "hallucination_score": pa.array([v.hallucination_score for v in verdicts], pa.float64()),
        "flagged": pa.array([v.flagged for v in verdicts], pa.bool_()),
        "reasons": pa.array([v.reasons for v in verdicts], pa.list_(pa.string())),
        "flagged_sentences": pa.array([v.flagged_sentences for v in verdicts], pa.list_(pa.int32())),
    }
    if detector_columns:
        for name in DETECTOR_NAMES:
            values = np.array([v.sentences[v.worst].detector_scores[name] if v.worst is not None else np.nan
                               for v in verdicts], dtype=np.float64)
            added[f"{name}_score"] = pa.array(values, pa.float64(), mask=np.isnan(values))
    out = table.drop_columns([c for c in added if c in table.column_names])
    for name, column in added.items():
        out = out.append_column(name, column)
    return out


def read_rows(path: str | Path) -> pa.Table:
    """CSV (text columns kept as strings, others type-inferred) or parquet."""
    return pa.concat_tables(iter_rows(path, chunk_rows=None))


def iter_rows(path: str | Path, chunk_rows: int | None = CHECK_CHUNK_ROWS) -> Iterator[pa.Table]:
    """The rows of a CSV (text columns kept as strings, others type-inferred) or parquet file, read in
    tables of up to `chunk_rows` rows (None: one table); a file without rows gives one empty table."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in {".csv", ".tsv"}:
        from pyarrow import csv

        reader = csv.open_csv(
            path,
            parse_options=csv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ","),
            convert_options=csv.ConvertOptions(column_types={name: pa.string() for name in REQUIRED_COLUMNS}),
        )
        schema, batches = reader.schema, iter(reader)
    else:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        schema, batches = parquet.schema_arrow, parquet.iter_batches(batch_size=chunk_rows or 65_536)
    pending: list[pa.RecordBatch] = []
    emitted = False
    for batch in batches:
        pending.append(batch)
        if chunk_rows and sum(b.num_rows for b in pending) >= chunk_rows:
            table = pa.Table.from_batches(pending, schema)
            whole = table.num_rows - table.num_rows % chunk_rows
            for start in range(0, whole, chunk_rows):
                yield table.slice(start, chunk_rows)
            emitted = True
            pending = table.slice(whole).to_batches()
    if pending or not emitted:
        yield pa.Table.from_batches(pending, schema)


def check_mt_file(
    input_path: str | Path,
    output_path: str | Path,
    settings: MTGuardSettings | None = None,
    detector_columns: bool = False,
    chunk_rows: int = CHECK_CHUNK_ROWS,
) -> CheckSummary:
    """Read CSV/parquet rows (src, mt, src_lang, tgt_lang[, logprob]); write them with the guard columns as
    parquet. Rows are read, scored and written `chunk_rows` at a time, so memory stays flat whatever the
    file's size; the output is the same as scoring the whole file at once."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    settings = settings or MTGuardSettings()
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    rows = flagged = 0
    writer = None
    not_checked: Counter[str] = Counter()
    try:
        for chunk in iter_rows(input_path, chunk_rows):
            scored = score_table(chunk, settings, detector_columns=detector_columns, source=str(input_path))
            if settings.language.enabled:
                not_checked += unknown_target_languages(scored)
            if writer is None:
                writer = pq.ParquetWriter(output_path, scored.schema)
            writer.write_table(scored)
            rows += scored.num_rows
            flagged += int(pc.sum(scored.column("flagged")).as_py() or 0)
    finally:
        if writer is not None:
            writer.close()
    return CheckSummary(str(input_path), str(output_path), rows, flagged, time.perf_counter() - started,
                        dict(not_checked.most_common()))


def unknown_target_languages(table: pa.Table) -> Counter[str]:
    """Rows with a translation whose tgt_lang (normalised; '' = missing) the language check does not know."""
    from tasks.text.language_id import known_languages

    known = known_languages()
    return Counter(code for code, mt in zip(map(normalise_lang, _strings(table, "tgt_lang")), _strings(table, "mt"))
                   if code not in known and mt and mt.strip())
