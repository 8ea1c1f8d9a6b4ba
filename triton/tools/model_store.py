"""The model store: where built/converted models live before Triton sees them.

A store is a local directory or an S3 prefix (``s3://bucket/prefix``) laid out as::

    <store>/<kind>/<model-name>/sentinel-model.json   (+ model.bin, source.spm, ...)

``kind`` is the Triton model that serves it (``translate`` today). Tools upload whole model
directories here (`upload_model_dir`); `sync_model_store.py` copies them into Triton's models dir.

Stdlib only at import time; boto3 is imported lazily for s3:// stores. S3 endpoint and credentials
come from the standard AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for SeaweedFS/MinIO).
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

METADATA_FILE = "sentinel-model.json"


@dataclass(frozen=True)
class StoredFile:
    """One file of a stored model: path relative to the model dir, size and a change tag."""

    relpath: str
    size: int
    etag: str  # S3 ETag, or "<size>-<mtime_ns>" for local stores


def s3_client():
    import boto3  # lazy: only s3:// stores need it

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint)


class LocalStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def list_models(self) -> list[tuple[str, str]]:
        """(kind, name) of every model dir that has a metadata file."""
        if not self.root.is_dir():
            return []
        return sorted(
            (meta.parent.parent.name, meta.parent.name)
            for meta in self.root.glob(f"*/*/{METADATA_FILE}")
            if not meta.parent.name.startswith(".")
        )

    def list_files(self, kind: str, name: str) -> list[StoredFile]:
        base = self.root / kind / name
        files = []
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            st = path.stat()
            files.append(StoredFile(path.relative_to(base).as_posix(), st.st_size, f"{st.st_size}-{st.st_mtime_ns}"))
        return files

    def download(self, kind: str, name: str, relpath: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.root / kind / name / relpath, dest)

    def upload_model_dir(self, local_dir: Path, kind: str, name: str) -> str:
        """Replace <root>/<kind>/<name> by a copy of local_dir (staged, then renamed into place)."""
        final = self.root / kind / name
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.parent / f".{name}.upload-{uuid.uuid4().hex[:8]}"
        shutil.copytree(local_dir, staging)
        replace_dir_atomically(staging, final)
        return str(final)


class S3Store:
    def __init__(self, bucket: str, prefix: str):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def client(self):
        if self._client is None:
            self._client = s3_client()
        return self._client

    def _key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p)

    def _iter_objects(self, prefix: str):
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def list_models(self) -> list[tuple[str, str]]:
        base = self._key() + "/" if self.prefix else ""
        models = set()
        for obj in self._iter_objects(base):
            parts = obj["Key"][len(base):].split("/")
            if len(parts) == 3 and parts[2] == METADATA_FILE:
                models.add((parts[0], parts[1]))
        return sorted(models)

    def list_files(self, kind: str, name: str) -> list[StoredFile]:
        base = self._key(kind, name) + "/"
        return [
            StoredFile(obj["Key"][len(base):], int(obj["Size"]), obj["ETag"].strip('"'))
            for obj in self._iter_objects(base)
            if not obj["Key"].endswith("/")
        ]

    def download(self, kind: str, name: str, relpath: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, self._key(kind, name, relpath), str(dest))

    def upload_model_dir(self, local_dir: Path, kind: str, name: str) -> str:
        """Upload every file; the metadata file goes last so a half-uploaded model is never listed."""
        files = sorted(p for p in Path(local_dir).rglob("*") if p.is_file())
        files.sort(key=lambda p: p.name == METADATA_FILE)
        stale = {f.relpath for f in self.list_files(kind, name)}
        for path in files:
            rel = path.relative_to(local_dir).as_posix()
            stale.discard(rel)
            self.client.upload_file(str(path), self.bucket, self._key(kind, name, rel))
        for rel in sorted(stale):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(kind, name, rel))
        return f"s3://{self.bucket}/{self._key(kind, name)}"


def open_store(url: str | Path) -> LocalStore | S3Store:
    """`s3://bucket/prefix` -> S3Store, anything else -> LocalStore (a directory path)."""
    text = str(url)
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://"):].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in store URL {text!r}")
        return S3Store(bucket, prefix)
    return LocalStore(Path(text))


def replace_dir_atomically(staging: Path, final: Path) -> None:
    """Move a fully written `staging` dir to `final`.

    A reader sees the old complete dir or the new complete dir (and, for a moment between the
    two renames, none): never a half-written one.
    """
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        os.rename(final, old)
    os.rename(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def write_metadata(model_dir: Path, metadata: dict) -> Path:
    """Write sentinel-model.json; `name` and `family` are required."""
    for key in ("name", "family"):
        if not metadata.get(key):
            raise ValueError(f"model metadata needs {key!r}: {metadata}")
    path = Path(model_dir) / METADATA_FILE
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path
