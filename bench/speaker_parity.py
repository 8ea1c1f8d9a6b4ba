"""Parity of the `speaker` model's features and encoder with resemblyzer itself, on the real
recordings of ../shared/data/speech: mel frames, one window's embedding, clip embeddings.

resemblyzer (with librosa, webrtcvad and torch) is not a dependency of the project; run this in a
scratch environment that has it, faster-whisper and onnxruntime:

    uv venv /tmp/rz && uv pip install --python /tmp/rz/bin/python resemblyzer==0.1.4 librosa \\
        "setuptools<70" faster-whisper==1.2.1 onnxruntime torch
    /tmp/rz/bin/python bench/speaker_parity.py --model .local/model-store/speaker/resemblyzer-ge2e

Writes bench/results/speaker_parity.json (numbers quoted in triton/model_repository/speaker/README.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "speech"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="the installed speaker model dir")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speaker_parity.json")
    args = parser.parse_args(argv)
    import librosa
    import torch
    from resemblyzer import VoiceEncoder as Reference
    from resemblyzer import preprocess_wav
    from resemblyzer.audio import wav_to_mel_spectrogram

    sys.path.insert(0, str(ROOT / "triton" / "model_repository" / "speaker" / "1"))
    import voice_encoder

    files = sorted(DATA.glob("*.wav")) + sorted(DATA.glob("*.flac"))
    ours = voice_encoder.VoiceEncoder(args.model)
    reference = Reference("cpu", verbose=False)
    mel_rel, window_cos, clip_cos = [], [], {}
    for path in files:
        wav, _ = librosa.load(str(path), sr=16000)
        expected, got = wav_to_mel_spectrogram(wav), voice_encoder.MelFrames()(wav)
        mel_rel.append(float(np.abs(expected - got).max() / np.abs(expected).max()))
        frames = expected[:160][None]
        with torch.no_grad():
            ref_vec = reference(torch.from_numpy(frames)).numpy()[0]
        our_vec = ours.session.run(None, {"mels": got[:160][None]})[0][0]
        window_cos.append(float(ref_vec @ our_vec))
        ref_clip = reference.embed_utterance(preprocess_wav(path))
        found = ours.embed_clip(path.read_bytes(), voice_encoder.SpeakerOptions(refine=False, step_s=0.77))
        mean = found.embeddings.mean(axis=0)
        clip_cos[path.stem] = round(float(ref_clip @ (mean / np.linalg.norm(mean))), 4)
    report = {"files": len(files), "librosa": librosa.__version__, "mel_max_rel_diff": max(mel_rel),
              "window_cosine_min": min(window_cos), "clip_cosine": clip_cos,
              "clip_cosine_range": [min(clip_cos.values()), max(clip_cos.values())]}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
