"""Vocabulary figures for docs/asr.md: rare names spoken by espeak-ng (tests/fixtures/audio/recordings.py
RARE_NAMES), transcribed by whisper-tiny.en without vocabulary, with `hotwords`, with an
`initial_prompt` and with a row's own PROMPT, on a Triton serving `transcribe`.

    .venv/bin/python bench/asr_vocabulary.py [--url 127.0.0.1:8001] [--out bench/results/asr_vocabulary.json]

Greedy decoding without temperature fallback (`temperature_increment` 0): the fallback samples, so a
hard clip's text would change from run to run; the flows' default (fallback on) gave the same
outcome on these clips.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "audio"))

import recordings  # noqa: E402


def transcribe(url: str, clip: bytes, prompt: str | None = None, **parameters) -> str:
    import tritonclient.grpc as grpcclient

    def tensor(name: str, value: bytes):
        t = grpcclient.InferInput(name, [1, 1], "BYTES")
        t.set_data_from_numpy(np.array([value], dtype=np.object_).reshape(1, 1))
        return t

    client = grpcclient.InferenceServerClient(url)
    try:
        inputs = [tensor("AUDIO", clip)] + ([tensor("PROMPT", prompt.encode())] if prompt else [])
        params = {"vad_filter": True, "temperature_increment": 0, "model": "whisper-tiny.en", **parameters}
        return client.infer("transcribe", inputs, parameters=params).as_numpy("TEXT").reshape(-1)[0].decode()
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "asr_vocabulary.json")
    args = parser.parse_args(argv)
    if why := recordings.tools_missing():
        raise SystemExit(why)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(len(recordings.RARE_NAMES)):
            clip = recordings.rare_name(Path(tmp), index)
            names = clip.scripts["names"]
            outputs = {"none": transcribe(args.url, clip.wav),
                       "hotwords": transcribe(args.url, clip.wav, hotwords=names),
                       "initial_prompt": transcribe(args.url, clip.wav, initial_prompt=f"Names: {names}."),
                       "row_prompt": transcribe(args.url, clip.wav, prompt=f"A message about {names}.")}
            rows.append({"spoken": clip.scripts["en"], "names": names,
                         **{k: {"text": v, "name_right": names in v} for k, v in outputs.items()}})
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    summary = {k: sum(r[k]["name_right"] for r in rows) for k in ("none", "hotwords", "initial_prompt", "row_prompt")}
    report = {"model": "whisper-tiny.en (int8, CPU)", "clips": len(rows), "names_right": summary, "rows": rows}
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
