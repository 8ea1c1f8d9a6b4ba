"""docs/benchmarks.md and docs/img/*.png from bench/results/*.json (whatever parts exist).

    .venv/bin/python bench/report.py
"""
from __future__ import annotations

import re

import plots
from common import ROOT, load_result
from report_text import GPU, fmt, pipeline_reading, profile_findings, tuning_rationale

DOC = ROOT / "docs" / "benchmarks.md"


def shipped_defaults() -> dict:
    """The defaults as the code and model configs have them now."""
    from dataclasses import fields

    from blocks.triton_endpoint import TritonEndpoint
    from tasks.engine.planning import DEFAULT_SHARD_BYTES, DEFAULT_SHARD_ROWS
    from tasks.inference.client import TritonCallSettings

    call = {f.name: f.default for f in fields(TritonCallSettings) if f.name in ("batch_size", "concurrency")}
    endpoint = {k: TritonEndpoint.model_fields[k].default for k in ("batch_size", "concurrency")}
    workers = next((m for path in sorted((ROOT / "flows").glob("*.py"))
                    if (m := re.search(r'SENTINEL_SHARD_WORKERS",\s*"(\d+)"', path.read_text()))), None)
    configs = {}
    for model in ("echo", "translate"):
        text = (ROOT / "triton" / "model_repository" / model / "config.pbtxt").read_text()
        grab = lambda pattern, text=text: (m.group(1).strip() if (m := re.search(pattern, text)) else "-")  # noqa: E731
        configs[model] = {"max_batch_size": grab(r"max_batch_size:\s*(\d+)"),
                          "preferred": grab(r"preferred_batch_size:\s*\[([^\]]*)\]"),
                          "delay_us": grab(r"max_queue_delay_microseconds:\s*(\d+)"),
                          "instances": grab(r"count:\s*(\d+)"),
                          "intra_threads": grab(r'"intra_threads", value: \{ string_value: "(\d*)"')}
    return {"client": call, "endpoint_block": endpoint, "configs": configs,
            "shard_rows": DEFAULT_SHARD_ROWS, "shard_bytes": DEFAULT_SHARD_BYTES,
            "shard_workers": int(workers.group(1)) if workers else None}


def fixed_part(seconds: float | None) -> str:
    """The fixed-cost estimate; below zero it is inside the run-to-run noise."""
    if seconds is None:
        return "–"
    return f"{seconds:.1f} s" if seconds >= 0 else "0 s (the estimate is below zero: within the noise)"


def pipeline_section(pipeline: dict | None, asr: dict | None) -> list[str]:
    out = ["## 1–2. Pipeline vs direct tritonclient vs per-row loop", ""]
    if not pipeline and not asr:
        return out + ["_No figures: run `bench/run_benchmarks.py --only pipeline,asr`._", ""]
    out += [
        "**Pipeline** = the whole `translate-batch` / `transcribe-batch` flow through a Prefect server: list S3, "
        "plan shards, stream parquet from S3, Triton over gRPC, write parts + manifest to S3. **Direct** = the same "
        "texts (clips) already in memory, sent with the pipeline's own async client (batched, requests in flight). "
        "**Per-row** = one synchronous request per row, on a sample. Targets: pipeline ÷ direct ≥ 0.90, "
        "pipeline ÷ per-row ≥ 20×.", "",
        "| model | rows | pipeline rows/s | direct rows/s | per-row rows/s | pipeline ÷ direct | pipeline ÷ per-row "
        "| marginal ÷ direct | pipeline peak RSS MB | direct peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (pipeline or {}).get("results", []):
        out.append(
            f"| {r['model']} | {r['rows']} | {r['pipeline']['rows_per_s']:.0f} | {r['direct']['rows_per_s']:.0f} "
            f"| {r['per_row']['rows_per_s']:.0f} | **{r['pipeline_over_direct']:.2f}** "
            f"| **{r['pipeline_over_per_row']:.1f}×** | {fmt(r.get('marginal_over_direct'), '.2f')} "
            f"| {r['pipeline']['peak_rss_mb']:.0f} | {r['direct']['peak_rss_mb']:.0f} |")
    if asr:
        per_row = asr.get("per_row") or {}
        out.append(
            f"| whisper tiny.en (`transcribe`) | {asr['clips']} clips | {asr['pipeline']['clips_per_s']:.2f} clips/s "
            f"| {asr['direct']['clips_per_s']:.2f} clips/s | {fmt(per_row.get('clips_per_s'), '.2f')} clips/s "
            f"| **{asr['pipeline_over_direct']:.2f}** | **{fmt(asr.get('pipeline_over_per_row'), '.1f')}×** "
            f"| {fmt(asr.get('marginal_over_direct'), '.2f')} | – | – |")
    if pipeline:
        fixed = pipeline["fixed_cost"]
        marginal = "; ".join(
            f"{r['model']}: {fmt(r.get('pipeline_marginal_rows_per_s'), '.0f')} rows/s marginal, fixed part "
            f"≈ {fixed_part(r.get('fixed_seconds_estimate'))}" for r in pipeline["results"])
        out += ["", f"A flow run on a {fixed['rows']}-row echo input takes **{fixed['seconds']:.1f} s** (best of 2): "
                "the fixed cost of a run. *Marginal* = the extra rows ÷ the extra seconds between the run above and "
                f"the same flow on a quarter of the rows, which is what a long batch converges to ({marginal}). "
                "Prefect server: " + pipeline.get("prefect_database", "?") + ".", ""]
        out += ["CPU per row (µs) during each run — on a 2-core machine every process below shares the same cores, so "
                "CPU spent outside Triton's model is throughput lost:", "",
                "| model | run | client / flow process | Triton server | S3 server | Prefect server |",
                "|---|---|---|---|---|---|"]
        for r in pipeline["results"]:
            for run in ("direct", "pipeline"):
                c = r.get("cpu_us_per_row", {}).get(run, {})
                out.append(f"| {r['model']} | {run} | {fmt(c.get('client'))} | {fmt(c.get('triton'))} "
                           f"| {fmt(c.get('s3'))} | {fmt(c.get('prefect'))} |")
    if asr:
        out += ["", f"Whisper: {asr['clips']} clips, {asr['audio_seconds']:.0f} s of audio ({asr['model']}); "
                f"real-time factor pipeline {asr['pipeline']['rtf']:.3f}, direct {asr['direct']['rtf']:.3f}."]
        if asr.get("small_pipeline"):
            out[-1] += (f" The same flow on {asr['small_pipeline']['clips']} clips took "
                        f"{asr['small_pipeline']['seconds']:.1f} s: {fmt(asr.get('pipeline_marginal_clips_per_s'), '.2f')} "
                        f"clips/s at the margin, fixed part ≈ {fixed_part(asr.get('fixed_seconds_estimate'))}. "
                        f"With guards off the run took {asr['pipeline_no_guards']['seconds']:.1f} s: the ASR guards "
                        f"(VAD per clip in the flow process, retries of flagged clips) cost "
                        f"{asr['guards_share_of_run']:.0%} of the run.")
    out += ["", pipeline_reading(pipeline, asr), "", "![pipeline vs direct vs per-row](img/pipeline.png)", ""]
    return out


def scale_section(scale: dict | None) -> list[str]:
    out = ["## 3. Scale: 10k → 1M rows, 1 → 100 objects (`echo`, Prefect on PostgreSQL)", ""]
    if not scale:
        return out + ["_No figures: run `bench/run_benchmarks.py --only scale`._", ""]
    out += [f"Prefect server database: **{scale['prefect_database']}**. Input row groups of "
            f"{scale['row_group_rows']} rows. Peak RSS: the flow process's own (getrusage), and the sampled peak of "
            "the Triton server tree (server + python-backend stubs of every loaded model, Whisper included) and of "
            "the Prefect server tree, with their RSS when the run started in brackets.", "",
            "| rows | objects | shard rows | shards | seconds | rows/s | flow peak RSS MB | Triton peak (start) MB "
            "| Prefect server peak (start) MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in scale["runs"]:
        out.append(f"| {r['rows']:,} | {r['objects']} | {r['shard_rows']:,} | {r['shards']} | {r['seconds']:.1f} "
                   f"| {r['rows_per_s']:.0f} | {r['flow_peak_rss_mb']:.0f} | {fmt(r['triton_peak_rss_mb'], '.0f')} "
                   f"({fmt(r['triton_start_rss_mb'], '.0f')}) | {fmt(r['prefect_server_peak_rss_mb'], '.0f')} "
                   f"({fmt(r['prefect_server_start_rss_mb'], '.0f')}) |")
    default = [r for r in scale["runs"] if r["shard_rows"] == scale["default_shard_rows"]]
    if default:
        small, large = min(default, key=lambda r: r["rows"]), max(default, key=lambda r: r["rows"])
        peaks = [r["flow_peak_rss_mb"] for r in default]
        out += ["", f"Flow process peak RSS over every run with the default shards: {min(peaks):.0f}–{max(peaks):.0f} MB "
                f"while the input grows {large['rows'] // max(small['rows'], 1)}×: memory is flat (the flow streams "
                "record batches; only the manifest's per-shard entries grow with the input)."]
        alt = [r for r in scale["runs"] if r["shard_rows"] != scale["default_shard_rows"]]
        for r in alt:
            base = next((d for d in default if d["rows"] == r["rows"] and d["objects"] == r["objects"]), None)
            if base:
                out.append(f"Shards of {r['shard_rows']:,} instead of {base['shard_rows']:,} rows "
                           f"({r['rows']:,} rows, {r['objects']} objects): {r['rows_per_s']:.0f} vs "
                           f"{base['rows_per_s']:.0f} rows/s (**{r['rows_per_s'] / base['rows_per_s']:.2f}×**).")
    return out + ["", "![scale](img/scale.png)", ""]


def guards_section(guards: dict | None) -> list[str]:
    out = ["## 4. Share of shard wall time in the guards", ""]
    if not guards:
        return out + ["_No figures: run `bench/run_benchmarks.py --only guards`._", ""]
    if guards.get("skipped"):
        return out + [f"Skipped: {guards['skipped']}.", ""]
    return out + [
        f"`translate-batch` on {guards['model']}, {guards['rows']} rows in shards of {guards['shard_rows']}, guards on "
        "(every translation scored; flagged ones re-decoded with beam search and scored again). From the run's "
        "manifest: sum(`guard_seconds`) ÷ sum(`seconds`) over its shards = "
        f"{guards['guard_seconds']:.1f} s ÷ {guards['shard_seconds']:.1f} s = **{guards['guard_share']:.0%}**. "
        f"End to end: {guards['with_guards']['rows_per_s']:.0f} rows/s with guards, "
        f"{guards['without_guards']['rows_per_s']:.0f} rows/s without ({guards['slowdown']:.2f}× the wall time); "
        f"{guards['flagged_rows']} rows ended `flagged`. The tiny model's translations are noise, so far more rows "
        "are flagged and re-decoded than a real model would cause: an upper bound.", ""] + scoring_cost_lines(guards)


def scoring_cost_lines(guards: dict) -> list[str]:
    cost = guards.get("scoring_cost")
    if not cost:
        return []
    parts = ", ".join(f"{name} {ms:.0f}" for name, ms in sorted(cost["ms_per_1000_rows"].items(), key=lambda x: -x[1]))
    top, top_ms = max(cost["ms_per_1000_rows"].items(), key=lambda x: x[1])
    return [f"Scoring cost per 1,000 rows on one core ({cost['source']}, {cost['rows']} distinct rows, shipped "
            f"settings), ms: {parts}; total {cost['total_ms_per_1000_rows']:.0f} ms, so about "
            f"**{cost['rows_per_s_one_core']:.0f} rows/s per core** for the guards alone. `{top}` is "
            f"{top_ms / cost['total_ms_per_1000_rows']:.0%} of it (multilingual USE, numpy). With a model faster "
            "than that (GPU), the guards set the pace of a flow process: give it a core per shard thread, or run "
            "more flow processes (fan-out)."
            + threads_line(cost.get("threads_at_once")), ""]


def threads_line(t: dict | None) -> str:
    if not t:
        return ""
    return (f" Shard threads score at once (no lock around the encoder for the process's own BLAS thread count): "
            f"{t['threads']} threads together score {t['rows_per_s_together']} rows/s against "
            f"{t['rows_per_s_1_thread']} for one, **{t['speedup']:.2f}×**.")


def tuning_section(tuning: dict | None, defaults: dict) -> list[str]:
    out = ["## 5. Tuning: client batch × concurrency, Triton instances and dynamic batching", ""]
    if tuning:
        out += ["Direct calls with the pipeline's client (`TritonTranslateClient`) on the bench's own Triton "
                "(copied model repository, max_batch_size raised so every client batch fits). rows/s:", ""]
        for model in ("echo", "translate"):
            points = [p for p in tuning["client_sweep"] if p["base_model"] == model]
            if not points:
                continue
            concs = sorted({p["concurrency"] for p in points})
            out += [f"**{model}** (batch ↓, concurrency →)", "", "| batch | " + " | ".join(map(str, concs)) + " |",
                    "|---|" + "---|" * len(concs)]
            for b in sorted({p["batch_size"] for p in points}):
                cells = [next((p for p in points if p["batch_size"] == b and p["concurrency"] == c), None) for c in concs]
                out.append(f"| {b} | " + " | ".join(fmt(p and p["rows_per_s"], ".0f") for p in cells) + " |")
            s = tuning["summary"].get(model, {})
            if s.get("default"):
                out += ["", f"Best: batch {s['best']['batch_size']} × {s['best']['concurrency']} = "
                        f"{s['best']['rows_per_s']:.0f} rows/s, **{s['best_over_default']:.2f}×** today's default "
                        f"(batch {s['default']['batch_size']} × {s['default']['concurrency']}: "
                        f"{s['default']['rows_per_s']:.0f} rows/s).", ""]
        out += ["Triton side (each setting is its own model in one server), rows/s:", "",
                "| model | setting | client batch × concurrency | rows/s | client CPU µs/row | server CPU µs/row |",
                "|---|---|---|---|---|---|"]
        for p in tuning["server_sweep"]:
            out.append(f"| `{p['variant']}` | {p['setting']} | {p['batch_size']} × {p['concurrency']} "
                       f"| {p['rows_per_s']:.0f} | {p['client_cpu_us_per_row']} | {p['server_cpu_us_per_row']} |")
        out += ["", "![client sweep](img/tuning.png)", "", "![server settings](img/tuning_server.png)", ""]
    else:
        out += ["_No figures: run `bench/run_benchmarks.py --only tuning`._", ""]
    c, e = defaults["client"], defaults["endpoint_block"]
    sized = "sized to the model (tasks/inference/model_config.py)"
    out += ["### Defaults", "",
            f"- Client: `TritonCallSettings` batch_size={c['batch_size']}, concurrency={c['concurrency']}; the "
            f"`TritonEndpoint` block (what the flows use) batch_size={e['batch_size'] or sized}, "
            f"concurrency={e['concurrency'] or sized}: the model's largest preferred batch size (else its "
            "max_batch_size) and two model batches per instance in flight (at least 4), read from Triton's model "
            "config at the start of a run.",
            f"- Flow: shard_rows={defaults['shard_rows']} and shard_bytes={defaults['shard_bytes'] // 2**20} MiB "
            f"(whole row groups, balanced), {defaults['shard_workers']} shard tasks at a time "
            "(`SENTINEL_SHARD_WORKERS`)."]
    for model, cfg in defaults["configs"].items():
        out.append(f"- `{model}` config.pbtxt: max_batch_size {cfg['max_batch_size']}, preferred [{cfg['preferred']}], "
                   f"max_queue_delay {cfg['delay_us']} µs, {cfg['instances']} CPU instance(s)"
                   + (f", intra_threads {cfg['intra_threads'] or 'default'}" if model == "translate" else "") + ".")
    return out + ["", tuning_rationale(tuning), ""]


def profile_section(profile: dict | None, pipeline: dict | None) -> list[str]:
    out = ["## Where the echo pipeline's time goes", ""]
    if not profile:
        return out + ["_No figures: run `bench/run_benchmarks.py --only profile`._", ""]
    r = profile["rows_per_s"]
    out += [f"{profile['rows']:,} rows, {profile['shards']} shards of {profile.get('shard_rows', 5000):,}, same texts and Triton (`bench/profile_pipeline.py`):",
            "", "| stage | rows/s |", "|---|---|"]
    labels = {"direct": "direct client, texts in memory", "read_only": "read only (S3 + parquet decode)",
              "function_1_thread": "`translate_shard` per shard, 1 thread, no Prefect",
              "function_4_threads": "`translate_shard`, 4 threads, no Prefect",
              "function_4_threads_no_quality": "`translate_shard`, 4 threads, no Prefect, no data-quality suites",
              "flow": "the flow (as shipped)", "flow_no_quality": "the flow, `data_quality=False`",
              "flow_no_concurrency_slot": "the flow, shard tasks without the global `triton-shards` slot",
              "flow_2_shard_workers": "the flow, 2 shard threads (SENTINEL_SHARD_WORKERS)",
              "flow_8_shard_workers": "the flow, 8 shard threads"}
    out += [f"| {labels.get(k, k)} | {v:.0f} |" for k, v in r.items()]
    out += ["", "Flow timeline (from the Prefect API's task runs):", "",
            "| run | flow s | before 1st shard s | shard phase s | 1st-wave task s | steady task s | shard fn s "
            "| Prefect overhead per task s |", "|---|---|---|---|---|---|---|---|"]
    for name, t in profile["flow_timeline"].items():
        out.append(f"| {name} | {t['flow_seconds']} | {t['before_first_shard_s']} | {t['shard_phase_s']} "
                   f"| {t['first_wave_task_s']} | {t['steady_task_s']} | {t['shard_function_s']} "
                   f"| {t['prefect_overhead_per_task_s']} |")
    out += ["", f"cProfile of the function path ({profile['cprofile_function_seconds']:.2f} s under the profiler), "
            "cumulative seconds by component:", "", "| component | s |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in profile["cprofile_components_s"].items()]
    return out + ["", profile_findings(profile, pipeline), ""]


def peer_section(peer: dict | None) -> list[str]:
    out = ["## 7. Peer: the default `sentinel translate` against a Ray Data job (issue 16)", ""]
    if not peer:
        return out + ["_No figures: run `bench/run_benchmarks.py --only peer`._", ""]
    out += [
        "Same parquet inputs in the same S3, same Triton, whole runs, alternating, median of "
        f"{peer['repeats']}. **sentinel** = `sentinel translate --input … --output … --model M --source-lang de` "
        "as a user runs it (data-quality suites on; `--no-guards` on `translate`; echo never has guards), wall time "
        f"of the command. **ray** = Ray Data {peer['ray_version']} (`bench/peer_ray_job.py`, own venv): "
        "`read_parquet` from S3, `map_batches` on 2 actors sending requests of "
        f"{peer['cases'][0].get('ray_request_rows', 32) if peer['cases'] else 32} rows with 8 in flight, "
        "`write_parquet` back; wall time of the command, `ray.init` included. **direct** = the texts already in "
        "memory, the pipeline's own client with its default sizing (in brackets: at 32 rows × 8 in flight, the issue's "
        "direct client and the default before); inference seconds only. *Marginal* = extra "
        "rows ÷ extra seconds between the two input sizes (median runs), i.e. without the fixed cost per run. "
        "Targets: sentinel ≥ 2.0× ray on echo and on translate (guards off); ≥ 0.7× direct on echo; marginal "
        "rate ≥ ray's.", "",
        "| model | rows (objects) | sentinel rows/s | ray rows/s | direct rows/s (at 32 × 8) | sentinel ÷ ray "
        "| sentinel ÷ direct (at 32 × 8) | marginal rows/s sentinel / ray / direct | peak RSS MB sentinel / ray "
        "| targets met |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    for case in peer["cases"]:
        large, r, m = case["large"], case["ratios"], case["marginal_rows_per_s"]
        rates, rss = large["median_rows_per_s"], large["peak_rss_mb"]
        met = ", ".join(f"{k}: {'yes' if v else '**no**'}" for k, v in case["targets_met"].items())
        out.append(f"| {case['model']} | {large['rows']:,} ({large['objects']}) | {rates['sentinel']:.0f} "
                   f"| {rates['ray']:.0f} | {rates['direct']:.0f} ({fmt(rates.get('direct_b32'), '.0f')}) "
                   f"| **{r['sentinel_over_ray']:.2f}×** "
                   f"| **{r['sentinel_over_direct']:.2f}** ({fmt(r.get('sentinel_over_direct_b32'), '.2f')}) "
                   f"| {fmt(m['sentinel'], '.0f')} / {fmt(m['ray'], '.0f')} / "
                   f"{fmt(m['direct'], '.0f')} | {fmt(rss['sentinel'], '.0f')} / {fmt(rss['ray'], '.0f')} | {met} |")
    for case in peer["cases"]:
        if case["targets_met"].get("sentinel >= 0.7x direct") is False:
            seconds = case["large"]["median_seconds"]
            out += ["", f"Not met on {case['model']}: ≥ 0.7× the direct client. The whole `sentinel translate` run "
                    f"took {seconds['sentinel']:.1f} s against {seconds['direct']:.1f} s of inference for the direct "
                    f"client ({seconds['direct_b32']:.1f} s at 32 × 8), which has its texts in memory and pays no "
                    "process start, imports, Prefect flow run, S3 reads and writes, checks or manifest. At the margin "
                    f"(extra rows ÷ extra seconds) the pipeline does {fmt(case['marginal_rows_per_s']['sentinel'], '.0f')}"
                    " rows/s: on echo the pipeline's own CPU per row (reading, per-row Python in the batch function, "
                    "writing) bounds it on 2 shared cores, not Triton."]
    loads = [run[k] for case in peer["cases"] for size in ("large", "small") for runs in case[size]["runs"].values()
             for run in runs for k in ("load_before", "load_after")]
    out += ["", f"1-minute load average during the runs: {min(loads):.1f}–{max(loads):.1f} (2 cores; at the start "
            f"{peer['load_at_start']}, at the end {peer['load_at_end']}). Runs at a load above 2 shared the cores "
            "with other work, so absolute rates are low and noisy; the systems alternate, so the ratios are "
            "the figures to read." if loads else ""]
    memory = peer.get("memory")
    if memory:
        big = memory["large"]
        out += ["", f"Memory: the default CLI on {big['rows']:,} echo rows peaked at "
                f"{fmt(big['peak_rss_mb'], '.0f')} MB (process tree), against "
                f"{fmt(memory.get('default_case_peak_rss_mb'), '.0f')} MB on the echo case "
                f"above ({big['rows_per_s']:.0f} rows/s; section 3 has the scale series)."]
    return out + ["", "Raw figures: `bench/results/peer.json`.", ""]


OWN_HEADINGS = ("## 1–2.", "## 3.", "## 4.", "## 5.", "## Where the echo pipeline", "## 6.", "## 7.")


def other_sections(previous: str) -> list[str]:
    """Sections of the existing docs/benchmarks.md that this generator does not write (other parts
    append their own): kept, in their order, after the generated ones."""
    kept, keep = [], False
    for line in previous.splitlines():
        if line.startswith("## "):
            keep = not line.startswith(OWN_HEADINGS)
        if keep:
            kept.append(line)
    return kept + ([""] if kept else [])


def main() -> None:
    pipeline, asr, scale = load_result("pipeline"), load_result("asr"), load_result("scale")
    guards, tuning, profile = load_result("guards"), load_result("tuning"), load_result("profile")
    plots.pipeline_bars(pipeline, asr)
    plots.scale_lines(scale)
    plots.tuning_heatmaps(tuning)
    plots.tuning_server_bars(tuning)
    docs = [d for d in (pipeline, asr, scale, guards, tuning, profile, load_result("peer")) if d]
    whens = sorted(d["when"] for d in docs)
    cpus = docs[0]["machine"]["cpus"] if docs else "?"
    lines = [
        "# Benchmarks", "",
        "Generated by `make bench` (`bench/run_benchmarks.py`, `bench/report.py`) from `bench/results/*.json`; do not "
        "edit by hand. Every figure that matters is a **ratio measured side by side in one run on one machine**, "
        "never an absolute promise.", "",
        f"Machine: {cpus} CPU cores, {docs[0]['machine']['platform'] if docs else '?'}, Python "
        f"{docs[0]['machine'].get('python', '?') if docs else '?'}; runs between {whens[0] if whens else '?'} and "
        f"{whens[-1] if whens else '?'}. Triton runs CPU instance groups. Client, Triton, S3 (SeaweedFS) and the "
        "Prefect server all share those cores.", "",
    ]
    names = ("pipeline", "asr", "scale", "guards", "tuning", "profile")
    loads = [f"{n} {d['machine']['load_1m']}" for n, d in zip(names, (pipeline, asr, scale, guards, tuning, profile))
             if d and d["machine"].get("load_1m") is not None]
    if loads:
        lines += [f"1-minute load average when each part finished: {', '.join(loads)}. A load above {cpus} means other "
                  "work shared the machine, and absolute figures from that part are noisy.", ""]
    lines += [GPU, ""]
    lines += pipeline_section(pipeline, asr)
    lines += scale_section(scale)
    lines += guards_section(guards)
    lines += tuning_section(tuning, shipped_defaults())
    lines += profile_section(profile, pipeline)
    lines += ["## 6. GPU", "", GPU, "",
              "Raw figures: `bench/results/{pipeline,asr,scale,guards,tuning,profile}.json`.", ""]
    lines += peer_section(load_result("peer"))
    lines += other_sections(DOC.read_text() if DOC.exists() else "")
    DOC.write_text("\n".join(lines))
    print(f"wrote {DOC.relative_to(ROOT)} and docs/img/*.png")


if __name__ == "__main__":
    main()
