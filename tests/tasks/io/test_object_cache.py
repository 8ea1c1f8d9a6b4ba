"""Small objects are fetched whole once (planning, the input suite and the batches share one GET) and
forgotten when their shard ends, so the cache holds what is planned and not yet read."""
import pytest

from tasks.io import object_cache
from tasks.io.listing import single_object
from tasks.io.s3_uri import S3Uri

pytestmark = pytest.mark.integration


def test_a_small_object_is_fetched_once_and_forgotten_after_its_shard(s3_conn, bucket):
    where = S3Uri(bucket, "object-cache/one.bin")
    s3_conn.boto3_client().put_object(Bucket=bucket, Key=where.key, Body=b"x" * 1000)
    obj = single_object(s3_conn, where)
    held = object_cache._small_held[0]
    first = object_cache.small_object(s3_conn, obj)
    assert object_cache.small_object(s3_conn, obj) is first  # the same bytes: not fetched again
    assert object_cache._small_held[0] == held + 1000
    object_cache.forget([obj, obj])
    assert (obj.uri, obj.etag) not in object_cache._small and object_cache._small_held[0] == held
    assert object_cache.small_object(s3_conn, obj) == first  # fetched again when asked again
    object_cache.forget([obj])
