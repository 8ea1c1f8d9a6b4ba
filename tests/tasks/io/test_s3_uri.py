import pytest

from tasks.io.s3_uri import InvalidS3Uri, S3Uri


def test_parse_and_join():
    uri = S3Uri.parse("s3://my-bucket/data/in")
    assert (uri.bucket, uri.key, uri.prefix) == ("my-bucket", "data/in", "data/in/")
    assert str(uri.join("run", "part-1.parquet")) == "s3://my-bucket/data/in/run/part-1.parquet"
    assert S3Uri.parse("s3://my-bucket").prefix == ""


@pytest.mark.parametrize("bad", [
    "http://bucket/key", "s3://B/key", "s3://ab/key", "s3://bucket/a/../b", "s3://bucket/a/./b",
    "s3://bucket/a\x00b", "s3://bucket/a\nb",
])
def test_rejects_unsafe_uris(bad):
    with pytest.raises(InvalidS3Uri):
        S3Uri.parse(bad)


def test_join_rejects_dot_dot():
    with pytest.raises(InvalidS3Uri):
        S3Uri.parse("s3://bucket/out").join("../escape")
