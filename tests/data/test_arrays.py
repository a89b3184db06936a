import numpy as np
import pandas as pd

from trendcast.data.arrays import SeriesArrays, period_index, series_starts, shift_periods
from trendcast.data.validate import validate


def arrays(df):
    data = validate(df)
    return SeriesArrays.from_frame(data.sales, data.freq)


def test_round_trip_to_frame(seasonal_sales):
    data = validate(seasonal_sales)
    back = SeriesArrays.from_frame(data.sales, data.freq).to_frame()
    pd.testing.assert_frame_equal(back, data.sales[["unique_id", "ds", "y"]], check_dtype=False)


def test_head_keeps_the_first_values_and_moves_the_end():
    df = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 2,
            "ds": list(pd.date_range("2024-01-01", periods=4))
            + list(pd.date_range("2024-01-03", periods=2)),
            "y": [1.0, 2, 3, 4, 5, 6],
        }
    )
    a = arrays(df)
    head = a.head(np.array([2, 1]))
    assert head.values.tolist() == [1.0, 2.0, 5.0]
    assert list(pd.DatetimeIndex(head.last_ds).strftime("%m-%d")) == ["01-02", "01-03"]
    only_b = a.head(np.array([2, 2]), select=np.array([False, True]))
    assert only_b.ids.tolist() == ["b"] and only_b.values.tolist() == [5.0, 6.0]


def test_last_values_pad_short_series():
    df = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b"],
            "ds": ["2024-01-01", "2024-01-02", "2024-01-01"],
            "y": [1.0, 2.0, 3.0],
        }
    )
    last = arrays(df).last_values(3)
    assert np.isnan(last[0, 0]) and last[0, 1:].tolist() == [1.0, 2.0]
    assert last[1, 2] == 3.0 and np.isnan(last[1, :2]).all()


def test_periods_and_shifts_agree_for_every_frequency():
    for freq, start in [("D", "2024-02-27"), ("W-SUN", "2024-01-07"), ("MS", "2023-11-01")]:
        starts = np.repeat(np.datetime64(start, "ns"), 5)
        moved = shift_periods(starts, np.arange(5), freq)
        assert np.diff(period_index(moved, freq)).tolist() == [1, 1, 1, 1]
        assert pd.DatetimeIndex(moved).equals(pd.date_range(start, periods=5, freq=freq))


def test_series_starts_of_object_and_categorical_ids_agree():
    ids = pd.Series(["b", "b", "a", "c", "c"])
    expected = [True, False, True, True, False]
    assert series_starts(ids).tolist() == expected
    assert series_starts(ids.astype("category")).tolist() == expected
