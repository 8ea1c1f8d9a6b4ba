"""Fill Triton's models dir from the model store (a directory or s3://bucket/prefix).

    .venv-triton/bin/python triton/tools/sync_model_store.py --store .local/model-store --dest .local/triton/models

Used at stack start-up and by the Kubernetes init container. For every ``<kind>/<name>/`` in the
store that has a ``sentinel-model.json``:

* the store's file list (size + ETag; size + mtime for local stores) is compared with the manifest
  ``.sentinel-sync.json`` left by the previous sync; an unchanged model is skipped;
* otherwise a staging dir ``<dest>/<kind>/.<name>.sync-*`` is filled (unchanged files are hard-linked
  or copied from the current dir, changed ones downloaded) and swapped in with two renames, so the
  server never reads a half-copied model dir.

``--prune`` removes synced model dirs (those with a manifest) that are no longer in the store.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_store import StoredFile, open_store, replace_dir_atomically

MANIFEST = ".sentinel-sync.json"


@dataclass
class ModelSync:
    kind: str
    name: str
    action: str  # "unchanged", "updated", "added", "pruned"
    downloaded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        counts = f" ({len(self.downloaded)} downloaded, {len(self.reused)} reused)"
        detail = counts if self.downloaded or self.reused else ""
        return f"{self.kind}/{self.name}: {self.action}{detail}"


def read_manifest(model_dir: Path) -> dict[str, dict]:
    try:
        return json.loads((model_dir / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError):
        return {}


def _is_current(local: Path, entry: dict | None, remote: StoredFile) -> bool:
    return (entry is not None and entry.get("size") == remote.size and entry.get("etag") == remote.etag
            and local.is_file() and local.stat().st_size == remote.size)


def sync_model(store, kind: str, name: str, dest: Path) -> ModelSync:
    target = dest / kind / name
    remote_files = store.list_files(kind, name)
    manifest = read_manifest(target)
    if {f.relpath for f in remote_files} == set(manifest) and all(
            _is_current(target / f.relpath, manifest.get(f.relpath), f) for f in remote_files):
        return ModelSync(kind, name, "unchanged")

    result = ModelSync(kind, name, "updated" if target.exists() else "added")
    staging = dest / kind / f".{name}.sync-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        for remote in remote_files:
            local, staged = target / remote.relpath, staging / remote.relpath
            staged.parent.mkdir(parents=True, exist_ok=True)
            if _is_current(local, manifest.get(remote.relpath), remote):
                try:
                    os.link(local, staged)
                except OSError:
                    shutil.copy2(local, staged)
                result.reused.append(remote.relpath)
            else:
                store.download(kind, name, remote.relpath, staged)
                result.downloaded.append(remote.relpath)
        files = {f.relpath: {"size": f.size, "etag": f.etag} for f in remote_files}
        (staging / MANIFEST).write_text(json.dumps({"store": str(store), "files": files}, indent=1, sort_keys=True))
        replace_dir_atomically(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def sync_model_store(store_url: str | Path, dest: str | Path, *, kinds: list[str] | None = None,
                     prune: bool = False) -> list[ModelSync]:
    """Sync every model of the store (optionally only some kinds) into dest; return what happened."""
    store, dest = open_store(store_url), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for leftover in dest.glob("*/.*.sync-*"):  # staging dirs of an interrupted earlier run
        shutil.rmtree(leftover, ignore_errors=True)
    models = [(k, n) for k, n in store.list_models() if not kinds or k in kinds]
    if not models:
        print(f"warning: no models in store {store} (expected <kind>/<name>/sentinel-model.json)", file=sys.stderr)
    results = [sync_model(store, kind, name, dest) for kind, name in models]
    if prune:
        wanted = set(models)
        for manifest in sorted(dest.glob(f"*/*/{MANIFEST}")):
            model_dir = manifest.parent
            key = (model_dir.parent.name, model_dir.name)
            if key not in wanted and (not kinds or key[0] in kinds) and not model_dir.name.startswith("."):
                shutil.rmtree(model_dir)
                results.append(ModelSync(*key, "pruned"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="model store: a directory or s3://bucket/prefix")
    parser.add_argument("--dest", required=True, help="Triton models dir (SENTINEL_MODELS_DIR)")
    parser.add_argument("--kind", action="append", help="only this kind (e.g. translate); repeatable")
    parser.add_argument("--prune", action="store_true", help="remove synced models that left the store")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    results = sync_model_store(args.store, args.dest, kinds=args.kind, prune=args.prune)
    if not args.quiet:
        for result in results:
            print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
