"""Small objects are fetched whole once (planning, the input suite and the batches share one GET) and
forgotten when their shard ends. Planning keeps an object only while it fits (a full cache never
evicts what the next shards read); a shard reading an object keeps it for its next read, the newest
planned objects giving way."""
import pytest

from tasks.io import object_cache
from tasks.io.listing import single_object
from tasks.io.s3_uri import S3Uri

pytestmark = pytest.mark.integration


def put_objects(s3_conn, bucket, names: list[str], size: int = 1000):
    objects = []
    for name in names:
        where = S3Uri(bucket, f"object-cache/{name}.bin")
        s3_conn.boto3_client().put_object(Bucket=bucket, Key=where.key, Body=name.encode()[:1] * size)
        objects.append(single_object(s3_conn, where))
    return objects


def test_a_small_object_is_fetched_once_and_forgotten_after_its_shard(s3_conn, bucket):
    (obj,) = put_objects(s3_conn, bucket, ["one"])
    held, fetched = object_cache._held[0], object_cache.fetched["objects"]
    first = object_cache.small_object(s3_conn, obj)
    assert object_cache.small_object(s3_conn, obj) is first  # the same bytes: not fetched again
    assert object_cache._held[0] == held + 1000 and object_cache.fetched["objects"] == fetched + 1
    object_cache.forget([obj, obj])
    assert (obj.uri, obj.etag) not in object_cache._reading and object_cache._held[0] == held
    assert object_cache.small_object(s3_conn, obj) == first  # fetched again when asked again
    object_cache.forget([obj])


def test_planning_keeps_objects_while_they_fit_and_never_evicts_them(s3_conn, bucket, monkeypatch):
    objects = put_objects(s3_conn, bucket, ["a", "b", "c"])
    monkeypatch.setattr(object_cache, "CACHE_BYTES", object_cache._held[0] + 2500)
    fetched = object_cache.fetched["objects"]
    try:
        kept = [object_cache.planned_object(s3_conn, obj) for obj in objects]
        assert kept[0] == b"a" * 1000 and kept[1] == b"b" * 1000
        assert kept[2] is None  # no room: planning reads this one's footer alone
        assert object_cache.fetched["objects"] == fetched + 2
        # the first planned object is what the next shard reads: still there
        assert object_cache.small_object(s3_conn, objects[0]) is kept[0]
        assert object_cache.fetched["objects"] == fetched + 2
    finally:
        object_cache.forget(objects)


def test_a_shard_reading_an_object_keeps_it_in_place_of_the_newest_planned(s3_conn, bucket, monkeypatch):
    objects = put_objects(s3_conn, bucket, ["d", "e", "f"])
    monkeypatch.setattr(object_cache, "CACHE_BYTES", object_cache._held[0] + 2500)
    try:
        first, second = (object_cache.planned_object(s3_conn, obj) for obj in objects[:2])
        read = object_cache.small_object(s3_conn, objects[2])  # not planned into the cache: fetched
        assert object_cache.small_object(s3_conn, objects[2]) is read  # kept for the shard's next read
        assert object_cache.small_object(s3_conn, objects[0]) is first  # the oldest planned stays
        assert (objects[1].uri, objects[1].etag) not in object_cache._planned  # the newest gave way
    finally:
        object_cache.forget(objects)
    assert not any((o.uri, o.etag) in object_cache._planned or (o.uri, o.etag) in object_cache._reading
                   for o in objects)
