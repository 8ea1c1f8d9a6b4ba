"""PNG plots for docs/benchmarks.md (matplotlib, headless). Each function takes a results doc and
writes docs/img/<name>.png, returning its path relative to docs/ (or None without data)."""
from __future__ import annotations

from common import IMG


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, name: str) -> str:
    IMG.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(IMG / f"{name}.png", dpi=110)
    _plt().close(fig)
    return f"img/{name}.png"


def pipeline_bars(pipeline: dict | None, asr: dict | None) -> str | None:
    """rows/s (log scale) of pipeline, direct and per-row per model."""
    cases = []
    for r in (pipeline or {}).get("results", []):
        cases.append((f"{r['model']}\n({r['rows']} rows)", r["pipeline"]["rows_per_s"], r["direct"]["rows_per_s"],
                      r["per_row"]["rows_per_s"]))
    if asr:
        cases.append((f"whisper tiny.en\n({asr['clips']} clips)", asr["pipeline"]["clips_per_s"],
                      asr["direct"]["clips_per_s"], (asr.get("per_row") or {}).get("clips_per_s", 0)))
    if not cases:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.27
    for i, (label, color) in enumerate((("pipeline", "#1f77b4"), ("direct batched", "#2ca02c"),
                                        ("per-row sync", "#d62728"))):
        xs = [n + (i - 1) * width for n in range(len(cases))]
        ys = [c[i + 1] for c in cases]
        ax.bar(xs, ys, width, label=label, color=color)
        for x, y in zip(xs, ys):
            if y:
                ax.text(x, y, f"{y:.0f}" if y >= 10 else f"{y:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(cases)), [c[0] for c in cases])
    ax.set_yscale("log")
    ax.set_ylabel("rows (clips) per second, log scale")
    ax.set_title("Pipeline vs direct tritonclient vs per-row loop (same model, same run)")
    ax.legend(fontsize=8)
    return _save(fig, "pipeline")


def scale_lines(scale: dict | None) -> str | None:
    runs = (scale or {}).get("runs", [])
    default = [r for r in runs if r["shard_rows"] == scale.get("default_shard_rows")] if runs else []
    if not default:
        return None
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for count in sorted({r["objects"] for r in default}):
        points = sorted((r for r in default if r["objects"] == count), key=lambda r: r["rows"])
        xs = [r["rows"] for r in points]
        left.plot(xs, [r["rows_per_s"] for r in points], marker="o", label=f"{count} object(s)")
        right.plot(xs, [r["flow_peak_rss_mb"] for r in points], marker="o", label=f"flow, {count} object(s)")
    for name, key, style in (("Triton server", "triton_peak_rss_mb", "s--"),
                             ("Prefect server", "prefect_server_peak_rss_mb", "^--")):
        by_rows = {}
        for r in default:
            if r.get(key):
                by_rows[r["rows"]] = max(by_rows.get(r["rows"], 0), r[key])
        if by_rows:
            xs = sorted(by_rows)
            right.plot(xs, [by_rows[x] for x in xs], style, label=f"{name} (max over object counts)")
    alt = [r for r in runs if r["shard_rows"] != scale.get("default_shard_rows")]
    for r in alt:
        left.scatter([r["rows"]], [r["rows_per_s"]], marker="*", s=120, zorder=3,
                     label=f"{r['objects']} object(s), shards of {r['shard_rows']}")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("input rows")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    left.set_ylabel("rows/s")
    left.set_title(f"echo: throughput (shards of {scale['default_shard_rows']} rows)")
    right.set_ylabel("peak RSS, MB")
    right.set_ylim(bottom=0)
    right.set_title("peak RSS: flat as the input grows")
    return _save(fig, "scale")


def tuning_heatmaps(tuning: dict | None) -> str | None:
    sweep = (tuning or {}).get("client_sweep", [])
    models = [m for m in ("echo", "translate") if any(p["base_model"] == m for p in sweep)]
    if not models:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        points = [p for p in sweep if p["base_model"] == model]
        batches = sorted({p["batch_size"] for p in points})
        concs = sorted({p["concurrency"] for p in points})
        grid = [[next((p["rows_per_s"] for p in points if p["batch_size"] == b and p["concurrency"] == c), 0)
                 for c in concs] for b in batches]
        image = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        ax.set_xticks(range(len(concs)), [str(c) for c in concs])
        ax.set_yticks(range(len(batches)), [str(b) for b in batches])
        ax.set_xlabel("client concurrency (requests in flight)")
        ax.set_ylabel("client batch size (rows per request)")
        ax.set_title(f"{model}: rows/s")
        top = max(max(row) for row in grid) or 1
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8,
                        color="black" if value > 0.6 * top else "white")
        fig.colorbar(image, ax=ax)
    return _save(fig, "tuning")


def tuning_server_bars(tuning: dict | None) -> str | None:
    sweep = (tuning or {}).get("server_sweep", [])
    if not sweep:
        return None
    plt = _plt()
    models = [m for m in ("echo", "translate") if any(p["base_model"] == m for p in sweep)]
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        points = [p for p in sweep if p["base_model"] == model]
        clients = sorted({(p["batch_size"], p["concurrency"]) for p in points})
        variants = list(dict.fromkeys(p["variant"] for p in points))
        width = 0.8 / len(clients)
        for i, client in enumerate(clients):
            ys = [next((p["rows_per_s"] for p in points if p["variant"] == v
                        and (p["batch_size"], p["concurrency"]) == client), 0) for v in variants]
            ax.bar([n + (i - (len(clients) - 1) / 2) * width for n in range(len(variants))], ys, width,
                   label=f"client batch {client[0]} x {client[1]}")
        ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("rows/s")
        ax.set_title(f"{model}: Triton settings")
        ax.legend(fontsize=7)
    return _save(fig, "tuning_server")
