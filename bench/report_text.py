"""The prose of docs/benchmarks.md that is not a table: findings and decisions, written from the
figures of the same run (bench/report.py renders it)."""
from __future__ import annotations

GPU = ("**No GPU figures exist yet**: no GPU has been lent to this project's benchmark sessions, so every figure "
       "here is from CPU instance groups. `triton/model_repository/translate/configs/gpu.pbtxt` is untested by "
       "these benchmarks.")


def fmt(value, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def _point(tuning: dict, sweep: str, **match) -> dict | None:
    return next((p for p in tuning.get(sweep, []) if all(p.get(k) == v for k, v in match.items())), None)


def _ratio(a: dict | None, b: dict | None) -> float | None:
    return a["rows_per_s"] / b["rows_per_s"] if a and b and b["rows_per_s"] else None


def pipeline_reading(pipeline: dict | None, asr: dict | None) -> str:
    """What the item 1-2 figures say, in words."""
    lines = []
    for r in (pipeline or {}).get("results", []):
        batching = r["direct"]["rows_per_s"] / r["per_row"]["rows_per_s"]
        lines.append(f"- `{r['model']}`: pipeline ÷ direct {r['pipeline_over_direct']:.2f} over the whole run, "
                     f"{fmt(r.get('marginal_over_direct'), '.2f')} at the margin. The per-row ceiling is the "
                     f"model's own batching gain: direct ÷ per-row = {batching:.0f}×.")
    if asr and asr.get("per_row"):
        lines.append(f"- Whisper: pipeline ÷ direct {asr['pipeline_over_direct']:.2f}. Direct ÷ per-row = "
                     f"{asr['direct']['clips_per_s'] / asr['per_row']['clips_per_s']:.1f}×: on CPU, a clip's "
                     "decoding costs far more than its request, so batching clips gains little.")
    lines.append("- Where a real model dominates, the pipeline's marginal rate is close to the direct loop's. The gap "
                 "is the fixed cost per run plus a fixed cost per shard, so it matters for fast models (echo, and "
                 "GPUs) and for short runs. ≥ 20× over per-row is only reachable where batching itself gains 20× or "
                 "more: echo here, and probably GPU models (not measured). CPU Marian and Whisper gain a few × at most.")
    return "\n".join(lines)


def tuning_rationale(tuning: dict | None) -> str:
    if not tuning:
        return "_Run the tuning part to see the figures behind these defaults._"
    s = tuning.get("summary", {})
    lines = ["**Decision** (taken on the figures of 2026-11-23, on a loaded 2-core machine): the client defaults "
             "stay at batch 32 × concurrency 8, and the model configs keep their values. This is why:", ""]
    echo, marian = s.get("echo"), s.get("translate")
    if marian and marian["best_over_default"] >= 1.2 and marian["best"]["batch_size"] <= 64:
        lines[0] += (f" **This run's figures disagree**: on `translate`, batch {marian['best']['batch_size']} × "
                     f"{marian['best']['concurrency']} is {marian['best_over_default']:.2f}× the default. Revisit the "
                     "`TritonEndpoint` defaults.")
    b64 = _point(tuning, "client_sweep", base_model="translate", batch_size=64, concurrency=8)
    b32 = _point(tuning, "client_sweep", base_model="translate", batch_size=32, concurrency=8)
    if echo:
        lines.append(f"- `echo` has no model behind it. Larger requests win there (best: batch "
                     f"{echo['best']['batch_size']} × {echo['best']['concurrency']}, {echo['best_over_default']:.1f}× "
                     "the default), because each request costs a fixed ~0.4 ms of gRPC client CPU and some python-backend "
                     "server CPU, whatever its size. That is a figure for the pipeline's own overhead. It says nothing "
                     "about a real model.")
    if marian:
        lines.append(f"- With the tiny Marian model on CPU, batch 64 × 8 runs at {fmt(_ratio(b64, b32), '.2f')}× "
                     f"batch 32 × 8, and the best point is {marian['best_over_default']:.2f}× the default. That is "
                     "within this machine's noise. A client batch above the shipped `translate` max_batch_size (64) "
                     "would be refused by the CPU config anyway. Raising the default needs a figure that clearly "
                     "beats 32, and the case for it is on GPU (gpu.pbtxt: max_batch_size 128), where no figure "
                     "exists yet.")
    conc = []
    for model in ("echo", "translate"):
        c1, c8, c16 = (_point(tuning, "client_sweep", base_model=model, batch_size=32, concurrency=c) for c in (1, 8, 16))
        if c1 and c8:
            conc.append(f"`{model}` batch 32: concurrency 8 = {_ratio(c8, c1):.1f}× concurrency 1"
                        + (f", 16 = {_ratio(c16, c8):.2f}× 8" if c16 else ""))
    lines.append("- Concurrency: with 1 request in flight, Triton sits idle while each response travels back. With "
                 "8, dynamic batching has requests to merge (" + "; ".join(conc) + ").")
    t1 = _ratio(_point(tuning, "server_sweep", variant="translate_t1", batch_size=32),
                _point(tuning, "server_sweep", variant="translate_b", batch_size=32))
    i2 = _ratio(_point(tuning, "server_sweep", variant="translate_i2", batch_size=32),
                _point(tuning, "server_sweep", variant="translate_b", batch_size=32))
    q0 = _ratio(_point(tuning, "server_sweep", variant="translate_q0", batch_size=32),
                _point(tuning, "server_sweep", variant="translate_b", batch_size=32))
    lines.append(f"- Triton side for `translate`: a 2nd CPU instance gives {fmt(i2, '.2f')}×, because there are only "
                 f"2 cores. Queue delay 0 with no preferred sizes gives {fmt(q0, '.2f')}×. CTranslate2 "
                 f"`intra_threads=1` gives **{fmt(t1, '.2f')}×** the shipped `0`, which means CTranslate2's default: "
                 "all cores, at most 4. With the client, S3 and Prefect on the same 2 cores, the extra decoding thread "
                 "competes more than it helps. The effect depends on the machine, so `intra_threads` stays a "
                 "config parameter and is not changed here. Where Triton shares its cores, set it to 1. Where Triton "
                 "has cores of its own, measure first.")
    echo_bits, winners = [], []
    for variant in ("echo_i2", "echo_q0", "echo_q5ms", "echo_nodb"):
        ratios = [_ratio(_point(tuning, "server_sweep", variant=variant, batch_size=b),
                         _point(tuning, "server_sweep", variant="echo_b", batch_size=b)) for b in (32, 128)]
        echo_bits.append(f"`{variant}` " + " / ".join(fmt(x, ".2f") for x in ratios))
        if all(x is not None and x >= 1.1 for x in ratios):
            winners.append(variant)
    verdict = (f"{', '.join(winners)} win(s) by ≥ 10% at both: worth a look for echo-like fast models."
               if winners else "No variant wins by 10% at both client batch sizes, so the shipped dynamic batching "
               "(preferred sizes, 1–5 ms delay) stays.")
    lines.append("- Triton side for `echo`, relative to the shipped settings at client batch 32 / 128: "
                 + ", ".join(echo_bits) + ". " + verdict)
    lines.append("- Shard size is the lever that matters for fast models: see section 3. Each shard pays a fixed "
                 "Prefect and data-quality cost.")
    return "\n".join(lines)


def profile_findings(profile: dict | None, pipeline: dict | None) -> str:
    if not profile:
        return ""
    r, comp = profile["rows_per_s"], profile["cprofile_components_s"]
    flows = profile["flow_timeline"]
    flow = flows.get("flow", {})
    total = profile["cprofile_function_seconds"] or 1.0
    quality = comp.get("data-quality suites (read + GE + write result)", 0.0)
    client = sum(v for k, v in comp.items() if k.startswith("Triton client"))
    fixed = (pipeline or {}).get("fixed_cost", {}).get("seconds")
    lines = [
        "**Findings** (echo, so none of this time is model time):", "",
        f"1. **The data-quality suites** (Great Expectations, added to every shard) take {quality / total:.0%} of "
        f"the shard function's profiled time. Without them the function does "
        f"{fmt(r.get('function_4_threads_no_quality'), '.0f')} rows/s instead of {fmt(r.get('function_4_threads'), '.0f')}, "
        f"and the flow {fmt(r.get('flow_no_quality'), '.0f')} instead of {fmt(r.get('flow'), '.0f')}. GE's cost is per "
        "expectation, not per row, and all GE calls in a process run under one lock (`tasks/quality/engine.py`), so "
        "shard threads queue for it. Importing GE on first use also makes the first wave of shard tasks slow: "
        f"{fmt(flow.get('first_wave_task_s'), '.1f')} s each, against {fmt(flow.get('steady_task_s'), '.2f')} s for "
        "the shards after them.",
        f"2. **Prefect's per-task overhead**: a steady-state shard task lasts "
        f"{fmt(flow.get('steady_task_s'), '.2f')} s, of which {fmt(flow.get('shard_function_s'), '.2f')} s is the "
        f"shard function. That leaves {fmt(flow.get('prefect_overhead_per_task_s'), '.2f')} s for task-run states, "
        "the result-cache lookup and result write to S3 (prefect-aws transfers), and the global `triton-shards` slot. "
        "Prefect acquires that slot one request at a time per limit name, so 4 shard threads queue for it. Without "
        "the slot the overhead drops to "
        f"{fmt(flows.get('flow_no_concurrency_slot', {}).get('prefect_overhead_per_task_s'), '.2f')} s. Throughput "
        f"hardly moves ({fmt(r.get('flow_no_concurrency_slot'), '.0f')} rows/s), because on 2 cores the wait "
        "overlapped other threads' CPU work.",
        f"3. **Fixed cost per run**: {fmt(fixed, '.1f')} s for a 100-row input, spent on flow-run creation, listing, "
        "planning, the result-storage block, the manifest, the report artifact, and the imports made on first use "
        "(pandas through pyarrow's first `pa.array`, great_expectations, fastapi for parameter serialization). It "
        "dominates any input below ~100k echo rows.",
        f"4. **The Triton client** is {client / total:.0%} of the function's profiled time. Each request costs "
        "about 0.4 ms of client CPU in gRPC aio plus protobuf, whatever its size. The client used to pass every "
        "tensor through numpy object arrays and tritonclient's per-element (de)serialization. "
        "`tasks/triton_client.py` (and `tasks/triton_asr_client.py`) now write and read Triton's BYTES wire format "
        "directly. When the change was made, this cut client CPU per request by about 25%, measured in isolation "
        "(batch 32: 574 → 427 µs; batch 128: 758 → 560 µs). The inputs are also built inside the concurrency slot, "
        "so only the requests in flight hold serialized bytes.",
        f"5. **Reading is not a cost**: S3 plus parquet decoding runs at {fmt(r.get('read_only'), '.0f')} rows/s. "
        "Writing the part (zstd) and uploading it are a few ms per shard. Uploads now take one PutObject (no "
        "transfer-manager threads) up to 8 MiB (`tasks/output_parts.py`). Parquet footers are cached per (object, "
        "ETag), so planning, the output schema and both shard reads share one footer GET (`tasks/sharding.py`, "
        "`tasks/shard_reader.py`).",
        "6. **On 2 cores everything shares the CPU**: the flow process, Triton, SeaweedFS and the Prefect server (see "
        "the CPU-per-row table in section 1). Every µs of CPU the pipeline spends outside the model comes out of "
        "Triton's throughput. That is why, on this machine, the echo pipeline stays far below 0.90 of a direct loop "
        "that does nothing but gRPC.",
        "",
        "**What would close the gap** (in files owned by others; measured here with `bench/measure.py --variant` / "
        "`--no-quality`):",
        "",
        "- Amortize the per-shard fixed costs with bigger shards for fast models (section 3). For example, default "
        "`shard_rows` to 20–50k when `model == \"echo\"`, or on GPU endpoints.",
        "- Data quality: run the GE input suite on a sample (or on pyarrow compute for ids and types) and the output "
        "suite once per object instead of once per shard. Or keep GE per shard and import it once, before the shards "
        "start (while listing and planning).",
        "- Prefect: make the `triton-shards` slot optional (skip `concurrency()` when the endpoint has no limit "
        "configured).",
    ]
    return "\n".join(lines)
