"""Model store, sync and fetch tools (triton/tools/) and the tritonserver launcher helpers."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import model_store
import pytest
import sync_model_store
from triton_fixtures import REPO_ROOT, TINY_PAIRS, TOOLS_DIR, TRITON_PYTHON, run_tool, triton_launcher


def make_model_dir(path: Path, name: str, files: dict[str, bytes]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    model_store.write_metadata(path, {"name": name, "family": "marian", "src": "de", "tgt": "en"})
    return path


def test_local_store_upload_replaces_the_model_dir(tmp_path):
    store = model_store.open_store(tmp_path / "store")
    first = make_model_dir(tmp_path / "v1", "marian-de-en", {"model.bin": b"v1", "old.txt": b"gone later"})
    second = make_model_dir(tmp_path / "v2", "marian-de-en", {"model.bin": b"v2", "sub/extra.bin": b"x"})
    store.upload_model_dir(first, "translate", "marian-de-en")
    where = Path(store.upload_model_dir(second, "translate", "marian-de-en"))
    assert where == tmp_path / "store" / "translate" / "marian-de-en"
    assert sorted(p.relative_to(where).as_posix() for p in where.rglob("*") if p.is_file()) == [
        "model.bin", "sentinel-model.json", "sub/extra.bin"]
    assert (where / "model.bin").read_bytes() == b"v2"
    assert store.list_models() == [("translate", "marian-de-en")]
    assert not [p for p in where.parent.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_open_store_parses_urls(tmp_path):
    s3 = model_store.open_store("s3://bucket/some/prefix/")
    assert isinstance(s3, model_store.S3Store) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    assert isinstance(model_store.open_store(tmp_path), model_store.LocalStore)
    with pytest.raises(ValueError):
        model_store.open_store("s3:///prefix")
    with pytest.raises(ValueError, match="family"):
        model_store.write_metadata(tmp_path, {"name": "x"})


def test_sync_copies_only_changes_and_prunes(tmp_path):
    store_dir, dest = tmp_path / "store", tmp_path / "models"
    store = model_store.open_store(store_dir)
    for name in ("marian-de-en", "marian-fr-en"):
        store.upload_model_dir(make_model_dir(tmp_path / name, name, {"model.bin": name.encode()}), "translate", name)

    first = {str(r) for r in sync_model_store.sync_model_store(store_dir, dest)}
    assert first == {"translate/marian-de-en: added (2 downloaded, 0 reused)",
                     "translate/marian-fr-en: added (2 downloaded, 0 reused)"}
    assert [r.action for r in sync_model_store.sync_model_store(store_dir, dest)] == ["unchanged", "unchanged"]

    (store_dir / "translate" / "marian-de-en" / "model.bin").write_bytes(b"new weights")
    results = {r.name: r for r in sync_model_store.sync_model_store(store_dir, dest)}
    assert results["marian-de-en"].action == "updated"
    assert results["marian-de-en"].downloaded == ["model.bin"]
    assert results["marian-de-en"].reused == ["sentinel-model.json"]
    assert (dest / "translate" / "marian-de-en" / "model.bin").read_bytes() == b"new weights"

    shutil.rmtree(store_dir / "translate" / "marian-fr-en")
    (dest / "translate" / "hand-made").mkdir()  # not synced (no manifest): never pruned
    results = sync_model_store.sync_model_store(store_dir, dest, prune=True)
    assert [(r.name, r.action) for r in results] == [("marian-de-en", "unchanged"), ("marian-fr-en", "pruned")]
    assert sorted(p.name for p in (dest / "translate").iterdir()) == ["hand-made", "marian-de-en"]


def test_sync_repairs_a_damaged_local_copy(tmp_path):
    store_dir, dest = tmp_path / "store", tmp_path / "models"
    model_store.open_store(store_dir).upload_model_dir(
        make_model_dir(tmp_path / "m", "marian-de-en", {"model.bin": b"12345"}), "translate", "marian-de-en")
    sync_model_store.sync_model_store(store_dir, dest)
    (dest / "translate" / "marian-de-en" / "model.bin").write_bytes(b"1")  # truncated on disk
    [result] = sync_model_store.sync_model_store(store_dir, dest)
    assert result.action == "updated" and result.downloaded == ["model.bin"]
    assert (dest / "translate" / "marian-de-en" / "model.bin").read_bytes() == b"12345"


def test_tritonserver_argv_binds_loopback_and_selects_config(tmp_path, triton_venv):
    argv = triton_launcher.tritonserver_argv(
        repo_root=REPO_ROOT, backends=tmp_path, model_repository=tmp_path, http_port=1, grpc_port=2,
        metrics_port=3, config_name="gpu")
    for flag in ("--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1",
                 "--model-config-name=gpu", "--exit-on-error=true"):
        assert flag in argv
    env = triton_launcher.triton_env(REPO_ROOT)
    assert env["PATH"].startswith(str(REPO_ROOT / ".venv-triton" / "bin"))
    assert "nvidia_pytriton.libs" in env["LD_LIBRARY_PATH"]
    backends = triton_launcher.prepare_backends(REPO_ROOT, tmp_path)
    assert os.access(backends / "python" / "triton_python_backend_stub", os.X_OK)
    assert (backends / "python" / "libtriton_python.so").exists()


@pytest.mark.integration
def test_tiny_models_in_store(tiny_store):
    for pair in TINY_PAIRS:
        model_dir = tiny_store / "translate" / f"marian-{pair}"
        meta = json.loads((model_dir / "sentinel-model.json").read_text())
        assert meta["name"] == f"marian-{pair}" and meta["tiny"] is True and meta["family"] == "marian"
        assert meta["intra_threads"] == 1  # translate/1/model.py: threads only slow a model this small
        assert (meta["src"], meta["tgt"]) == tuple(pair.split("-"))
        for name in ("model.bin", "shared_vocabulary.json", "source.spm", "target.spm"):
            assert (model_dir / name).is_file()


@pytest.mark.integration
def test_fetch_opus_mt_converts_a_local_hf_model_into_the_store(tiny_store, tmp_path):
    """The real-model path minus the download: a local Hugging Face Marian dir -> CT2 int8 -> store."""
    hf_dir = tiny_store.parent / "hf" / "marian-de-en"
    store = tmp_path / "store"
    run_tool("fetch_opus_mt.py", "--pair", "de-en", "--hf-model", str(hf_dir), "--quantization", "int8",
             "--store", str(store))
    model_dir = store / "translate" / "marian-de-en"
    meta = json.loads((model_dir / "sentinel-model.json").read_text())
    assert meta["tiny"] is False and meta["quantization"] == "int8" and meta["hf_model"] == str(hf_dir)
    assert (model_dir / "source.spm").read_bytes() == (hf_dir / "source.spm").read_bytes()
    float32_model = tiny_store / "translate" / "marian-de-en" / "model.bin"
    assert (model_dir / "model.bin").stat().st_size < float32_model.stat().st_size  # int8 weights


def test_fetch_opus_mt_offline_fails_clearly(triton_venv):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([str(TRITON_PYTHON), str(TOOLS_DIR / "fetch_opus_mt.py"), "--pair", "de-en",
                           "--store", "/nonexistent-store"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0
    assert "cannot download 'Helsinki-NLP/opus-mt-de-en'" in proc.stderr
    assert "needs network access" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_install_speaker_model_exports_the_pinned_encoder_once(triton_venv, tmp_path):
    """The resemblyzer wheel (cached in .local/cache/speaker-wheels, else downloaded) -> encoder.onnx
    checked against torch, metadata with the pinned hashes; a second run leaves it alone; a wheel
    that is not the pinned one is refused."""
    wheels = REPO_ROOT / ".local" / "cache" / "speaker-wheels"
    store = tmp_path / "store"
    first = run_tool("install_speaker_model.py", "--store", str(store), "--wheel-dir", str(wheels), timeout=600)
    assert "installed ->" in first.stdout and "of torch" in first.stdout
    meta = json.loads((store / "speaker" / "resemblyzer-ge2e" / "sentinel-model.json").read_text())
    assert meta["checkpoint_sha256"].startswith("39373b86") and meta["source"] == ["pypi:Resemblyzer==0.1.4"]
    assert meta["export_max_abs_diff"] < 1e-5 and meta["embedding_dim"] == 256 and meta["n_mels"] == 40
    assert (store / "speaker" / "resemblyzer-ge2e" / "encoder.onnx").stat().st_size > 5_000_000
    again = run_tool("install_speaker_model.py", "--store", str(store), "--wheel-dir", str(wheels))
    assert "already installed" in again.stdout
    fake = tmp_path / "fake-wheels"
    fake.mkdir()
    (fake / "Resemblyzer-0.1.4-py3-none-any.whl").write_bytes(b"not the wheel")
    proc = subprocess.run([str(TRITON_PYTHON), str(TOOLS_DIR / "install_speaker_model.py"), "--store",
                           str(tmp_path / "other"), "--wheel-dir", str(fake)], capture_output=True, text=True,
                          timeout=120, cwd=TOOLS_DIR)
    assert proc.returncode == 1 and "expected 8f12eb2f" in proc.stderr and "pinned" in proc.stderr
