"""Arrow → the pandas frames GE validates: nullable integers, float64 floats, row-number index."""
import pandas as pd
import pyarrow as pa

from tasks.quality.frames import to_frame


def test_floats_are_widened_to_float64_and_ints_stay_nullable_integers():
    table = pa.table({"id": pa.array([1, None, 3], pa.int64()),
                      "logprob": pa.array([-0.5, None, -1.0], pa.float32()),
                      "score": pa.array([0.25, 0.5, None], pa.float16())})
    frame = to_frame(table, first_row=10)
    # GE's range check is vectorised only for float64: a float32 column is checked one Python call per row
    assert frame["logprob"].dtype == "float64" and frame["score"].dtype == "float64"
    assert frame["id"].dtype == pd.Int64Dtype()
    assert list(frame.index) == [10, 11, 12]
    assert frame["logprob"].tolist()[0] == -0.5 and pd.isna(frame["logprob"][11])
