"""`s3://bucket/key` URIs: parsing, validation and joining."""
from __future__ import annotations

import re
from dataclasses import dataclass

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidS3Uri(ValueError):
    """A URI or object key that is not a safe `s3://bucket/key`."""


@dataclass(frozen=True, order=True)
class S3Uri:
    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise InvalidS3Uri(f"not an s3:// URI: {uri!r}")
        bucket, _, key = uri[len("s3://"):].partition("/")
        if not _BUCKET.match(bucket):
            raise InvalidS3Uri(f"invalid bucket name {bucket!r} in {uri!r}")
        validate_key(key, uri)
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def prefix(self) -> str:
        """The key as a listing prefix: ends with '/' unless empty."""
        return self.key if not self.key or self.key.endswith("/") else self.key + "/"

    def join(self, *parts: str) -> S3Uri:
        key = self.key.rstrip("/")
        for part in parts:
            validate_key(part, part)
            key = f"{key}/{part.strip('/')}" if key else part.strip("/")
        return S3Uri(self.bucket, key)

    @property
    def arrow_path(self) -> str:
        """The `bucket/key` form pyarrow's S3FileSystem takes."""
        return f"{self.bucket}/{self.key}"


def validate_key(key: str, context: str) -> None:
    """Reject keys that could escape a prefix or confuse tools: `..` segments, control chars.

    Hand-written on purpose: S3 itself accepts these keys and boto3 / pyarrow pass them on, so no
    client library rejects them; the rule is ours (keys become local paths, report links, part names)."""
    if _CONTROL.search(key):
        raise InvalidS3Uri(f"control character in object key of {context!r}")
    if any(segment in ("..", ".") for segment in key.split("/")):
        raise InvalidS3Uri(f"'.' or '..' path segment in object key of {context!r}")
    if len(key.encode()) > 1024:
        raise InvalidS3Uri(f"object key longer than 1024 bytes in {context!r}")
