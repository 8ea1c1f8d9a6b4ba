"""Hive partitions: values from `key=value` folders, typed as pyarrow's hive discovery types them."""
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tasks.io.partitions import infer_types, partition_column, partition_values, typed


def test_values_are_uri_decoded_and_the_hive_default_is_null():
    assert partition_values("dt=2026-12-01/lang=a%2Fb/x=__HIVE_DEFAULT_PARTITION__/part-0.parquet") == [
        ("dt", "2026-12-01"), ("lang", "a/b"), ("x", None)]
    assert partition_values("part-0.parquet") == [] and partition_values("plain/dir/f.parquet") == []


def test_types_match_pyarrow_hive_discovery(tmp_path):
    paths = ["dt=2026-12-01/lang=de/n=5/big=9999999999/f=1.5/part-0.parquet",
             "dt=2026-12-02/lang=en/n=7/big=1/f=2/part-0.parquet",
             "dt=__HIVE_DEFAULT_PARTITION__/lang=a%2Fb/n=-8/big=2/f=3/part-0.parquet"]
    for path in paths:
        (tmp_path / path).parent.mkdir(parents=True)
        pq.write_table(pa.table({"x": [1]}), tmp_path / path)
    expected = ds.dataset(str(tmp_path), format="parquet", partitioning="hive").schema
    types = infer_types(partition_values(p) for p in paths)
    assert {name: pa.int32() if kind == "int32" else pa.string() for name, kind in types.items()} == {
        name: expected.field(name).type for name in types}
    rows = ds.dataset(str(tmp_path), format="parquet", partitioning="hive").to_table().to_pylist()
    ours = [{name: partition_column(value, kind, 1)[0].as_py() for name, value, kind in typed(partition_values(p), types)}
            for p in paths]
    assert sorted(map(str, ours)) == sorted(str({k: v for k, v in r.items() if k != "x"}) for r in rows)


def test_an_object_outside_a_partition_folder_has_null_there():
    keys = ["dt=1/a.parquet", "b.parquet"]
    types = infer_types(partition_values(k) for k in keys)
    assert [typed(partition_values(k), types) for k in keys] == [(("dt", "1", "int32"),), (("dt", None, "int32"),)]
