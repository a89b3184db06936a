import pickle

import numpy as np
import pandas as pd
import polars as pl
import pytest

from trendcast.data.validate import DataValidationError, validate
from trendcast.errors import Setting


def frame(**overrides):
    base = {
        "unique_id": ["a", "a", "a", "b", "b", "b"],
        "ds": ["2024-01-01", "2024-01-02", "2024-01-03"] * 2,
        "y": [1.0, 0.0, 2.0, 3.0, 4.0, 5.0],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def error_of(df, **kwargs) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate(df, **kwargs)
    return info.value


def test_valid_frame_is_parsed_sorted_and_unchanged():
    df = frame().iloc[::-1]
    data = validate(df)
    assert data.freq == "D"
    assert data.report == []
    assert data.sales["ds"].dtype == "datetime64[ns]"
    assert data.sales["unique_id"].tolist() == ["a"] * 3 + ["b"] * 3
    assert data.sales["y"].tolist() == [1.0, 0.0, 2.0, 3.0, 4.0, 5.0]
    assert df["ds"].dtype == object  # the caller's frame is not modified


def test_frame_already_sorted_and_typed_is_copied_not_shared():
    df = frame(ds=pd.to_datetime(frame()["ds"]), y=[1.0, -2.0, 2.0, 3.0, 4.0, 5.0])
    df.index = [10, 11, 12, 13, 14, 15]
    dynamic = df[["unique_id", "ds"]].assign(price=1.0)
    data = validate(df, dynamic=dynamic, clip_negative=True)
    assert data.sales["y"].tolist() == [1.0, 0.0, 2.0, 3.0, 4.0, 5.0]
    assert data.sales.index.equals(pd.RangeIndex(6)) and data.dynamic.index.equals(pd.RangeIndex(6))
    data.sales.loc[:, "ds"] = pd.Timestamp("2030-01-01")
    data.dynamic.loc[:, "price"] = 2.0
    assert df["y"].tolist() == [1.0, -2.0, 2.0, 3.0, 4.0, 5.0]
    assert df["ds"].min() == pd.Timestamp("2024-01-01") and dynamic["price"].eq(1.0).all()


def test_categorical_ids_are_sorted_by_category_order():
    df = frame(unique_id=pd.Categorical(["a"] * 3 + ["b"] * 3, categories=["b", "a"]))
    data = validate(df)
    assert data.sales["unique_id"].tolist() == ["b"] * 3 + ["a"] * 3
    assert data.sales["y"].tolist() == [3.0, 4.0, 5.0, 1.0, 0.0, 2.0]


def test_misspelt_column_suggests_the_right_name():
    error = error_of(frame().rename(columns={"y": "sales"}))
    assert error.column == "y"
    assert "did you mean 'sales'" in str(error)
    assert "target_col='sales'" in str(error)
    error = error_of(frame().rename(columns={"unique_id": "uniqe_id"}))
    assert "did you mean 'uniqe_id'" in str(error)


def test_three_misnamed_columns_are_reported_in_one_error_with_suggestions():
    df = frame().rename(columns={"unique_id": "sku", "ds": "date", "y": "units"})
    error = error_of(df)
    assert [p.column for p in error.problems] == ["unique_id", "ds", "y"]
    assert [p.fix.settings for p in error.problems] == [
        (Setting("id_col", "sku"),),
        (Setting("time_col", "date"),),
        (Setting("target_col", "units"),),
    ]
    for guess in ("sku", "date", "units"):
        assert f"did you mean '{guess}'" in str(error)
    assert str(error).startswith("3 problems in the input:")


def test_each_column_is_guessed_for_one_missing_name_only():
    df = frame().rename(columns={"unique_id": "item_date"}).drop(columns="ds")
    fixes = {
        p.column: p.fix.settings for p in error_of(df, id_col="item", time_col="date").problems
    }
    assert fixes == {
        "item": (Setting("id_col", "item_date"),),
        "date": (Setting("time_col", "<your column>"),),
    }


def test_independent_problems_of_every_frame_come_in_one_error():
    sales = frame(
        ds=["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-01", "someday", "2024-01-03"],
        y=[1.0, "x", 2.0, -3.0, 4.0, 5.0],
    )
    static = pd.DataFrame({"unique_id": ["a", "a", "b"], "title": ["mug", "cup", "scarf"]})
    dynamic = pd.DataFrame({"unique_id": ["a", "q"], "ds": ["2024-01-01"] * 2, "price": [1, 2]})
    reviews = pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"], "rating": [5]})
    error = error_of(sales, static=static, dynamic=dynamic, reviews=reviews)
    found = {(p.frame, p.column, p.message.split(" ", 1)[1][:20]) for p in error.problems}
    assert found == {
        ("sales", "ds", "values are missing o"),
        ("sales", "y", "values are not numbe"),
        ("sales", "y", "rows have negative d"),
        ("static", "unique_id", "ids appear on more t"),
        ("dynamic", "unique_id", "ids do not occur in "),
        ("reviews", "text", "The frame has column"),
    }
    bad_date = next(p for p in error.problems if p.column == "ds")
    assert bad_date.rows.index.tolist() == [4] and bad_date.rows["ds"].tolist() == ["someday"]
    message = str(error)
    assert message.count("Fix: ") == 6 and "someday" in message and "'q'" not in message
    assert "q" in next(p for p in error.problems if p.frame == "dynamic").rows.to_string()


def test_a_missing_column_stops_only_the_checks_that_need_it():
    sales = frame(y=["1", "2", "x", "3", "4", "-5"]).rename(columns={"unique_id": "sku"})
    static = pd.DataFrame({"unique_id": ["a", "a"]})
    error = error_of(sales, static=static)
    assert [(p.frame, p.column) for p in error.problems] == [
        ("sales", "unique_id"),
        ("sales", "y"),
        ("sales", "y"),
        ("static", "unique_id"),
    ]
    assert "negative" in error.problems[2].message
    # Without sales ids, no check of the static ids against them, nor of duplicates or gaps.
    assert "more than one row" in error.problems[3].message


def test_offending_rows_are_shown_by_their_row_number_in_the_frame_as_given():
    df = pd.concat([frame().iloc[::-1], frame().iloc[[1]]])  # rows 4 and 6 repeat (a, 01-02)
    df.index = [f"r{i}" for i in range(7)]
    error = error_of(df)
    assert error.rows.index.tolist() == [4, 6] and error.rows.index.name == "row"
    assert (df.iloc[[4, 6]]["ds"] == "2024-01-02").all()
    negative = frame(y=[1.0, 0.0, 2.0, 3.0, -4.0, 5.0]).iloc[::-1]
    assert error_of(negative).rows.index.tolist() == [1]


def test_the_error_keeps_its_problems_through_pickling():
    error = error_of(frame(ds=["2024-01-01", "2024-01-02", "x"] * 2, y=[1, 2, 3, "?", 5, 6]))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DataValidationError and str(copy) == str(error)
    assert [p.message for p in copy.problems] == [p.message for p in error.problems]
    assert copy.rows.equals(error.rows)


def test_catalogue_with_products_not_sold_yet_is_kept_and_noted():
    static = pd.DataFrame(
        {"unique_id": ["a", "new1", "b", "new2"], "title": ["mug", "hat", "scarf", "sock"]}
    )
    data = validate(frame(), static=static)
    assert data.static["unique_id"].tolist() == ["a", "new1", "b", "new2"]
    assert data.static["title"].tolist() == ["mug", "hat", "scarf", "sock"]
    assert data.report == [
        "static: 2 series have no sales ('new1', 'new2'); their rows are kept, and they are "
        "not forecast"
    ]


def test_sales_series_missing_from_the_catalogue_is_an_error():
    static = pd.DataFrame({"unique_id": ["a", "new1"], "title": ["mug", "hat"]})
    error = error_of(frame(), static=static)
    assert (error.frame, error.column) == ("static", "unique_id")
    assert "1 series of the sales have no row" in error.problem
    assert error.rows["unique_id"].tolist() == ["b"]


def test_forecaster_fits_sales_with_a_larger_catalogue():
    from trendcast import Forecaster
    from trendcast.models import LightGBM, Naive, SeasonalNaive

    shop = _grain_shop()
    unsold = shop.static.astype(str).head(3)
    unsold["unique_id"] = "NEW_" + unsold["unique_id"]
    catalogue = pd.concat([shop.static.astype(str), unsold], ignore_index=True)
    # A store-wide price, joined onto the series through the catalogue.
    store = shop.static[["unique_id", "store_id"]].merge(shop.dynamic)
    store_price = store.groupby(["store_id", "ds"], as_index=False)["price"].mean()
    dynamic = [shop.dynamic.drop(columns="price"), store_price]

    def fitted(static):
        models = [LightGBM(n_estimators=10), SeasonalNaive(), Naive()]
        return Forecaster(models).fit(shop.sales, static=static, dynamic=dynamic)

    fc = fitted(catalogue)
    assert len(fc.data_.static) == len(catalogue)
    assert any(note.startswith("static: 3 series have no sales") for note in fc.data_.report)
    forecast = fc.predict(7)
    assert set(forecast["unique_id"]) == set(shop.sales["unique_id"])
    # The unsold rows change nothing: the forecast is the one of the sold products' catalogue.
    pd.testing.assert_frame_equal(forecast, fitted(catalogue.iloc[: len(shop.static)]).predict(7))
    plan = store_price[store_price["ds"] > shop.sales["ds"].max()].assign(price=0.5)
    assert not fc.predict(7, dynamic=plan).equals(forecast)


def test_renamed_columns_are_accepted():
    df = frame().rename(columns={"unique_id": "sku", "ds": "date", "y": "units"})
    data = validate(df, id_col="sku", time_col="date", target_col="units")
    assert data.columns.target_col == "units"
    assert len(data.sales) == 6


def test_unparsable_dates_are_shown():
    error = error_of(frame(ds=["2024-01-01", "2024-01-02", "not a date"] * 2))
    assert error.column == "ds"
    assert "not a date" in str(error)
    assert len(error.rows) == 2


def test_numeric_dates_are_rejected_with_a_hint():
    assert "epoch" in str(error_of(frame(ds=[1, 2, 3] * 2)))


@pytest.mark.parametrize(
    "tz, ds",
    [
        ("local", ["2024-01-01T00:00+01:00", "2024-01-02T00:00Z", "2024-01-03T00:00-05:00"]),
        ("UTC", ["2024-01-01T01:00+01:00", "2024-01-02T00:00Z", "2024-01-02T19:00-05:00"]),
    ],
)
def test_zoned_dates_follow_one_convention_and_are_reported(tz, ds):
    data = validate(pd.DataFrame({"unique_id": "a", "ds": ds, "y": [1, 2, 3]}), tz=tz)
    assert data.sales["ds"].tolist() == list(pd.date_range("2024-01-01", periods=3))
    assert any("3 timestamps had a time zone" in line for line in data.report)


def test_zoned_dates_are_never_shifted_by_another_convention():
    # 00:00 in Berlin is 23:00 the day before in UTC: a time of day, refused, not moved.
    ds = ["2024-01-01T00:00+01:00", "2024-01-02T00:00+01:00"]
    error = error_of(pd.DataFrame({"unique_id": "a", "ds": ds, "y": [1, 2]}), tz="UTC")
    assert "time of day" in str(error)


def test_zone_aware_dtype_and_mixed_objects_are_read():
    aware = pd.date_range("2024-01-01", periods=3, tz="Asia/Tokyo")
    mixed = pd.Series([aware[0], pd.Timestamp("2024-01-02"), aware[2]], dtype=object)
    for ds in (aware, mixed):
        data = validate(pd.DataFrame({"unique_id": "a", "ds": ds, "y": [1, 2, 3]}))
        assert data.sales["ds"].tolist() == list(pd.date_range("2024-01-01", periods=3))
        assert data.report


def test_non_numeric_target_is_shown():
    error = error_of(frame(y=["1", "2", "1,200", "3", "x", "5"]))
    assert error.column == "y"
    assert len(error.rows) == 2
    assert "1,200" in str(error)


def test_missing_target_is_an_error():
    error = error_of(frame(y=[1.0, np.nan, 2.0, 3.0, 4.0, 5.0]))
    assert "missing" in error.problem


def test_negative_target_is_rejected_unless_clipping_is_asked():
    df = frame(y=[1.0, -2.0, 2.0, 3.0, 4.0, 5.0])
    error = error_of(df)
    assert "negative" in error.problem and "clip_negative=True" in error.fix
    data = validate(df, clip_negative=True)
    assert data.sales["y"].min() == 0
    assert data.report == ["clipped 1 negative values of 'y' to 0"]


def test_duplicates_are_shown_with_the_fix():
    df = pd.concat([frame(), frame().iloc[[1]]])
    error = error_of(df)
    assert len(error.rows) == 2
    assert "groupby" in error.fix
    in_order = pd.concat([frame().iloc[:2], frame().iloc[[1, 1]], frame().iloc[2:]])
    error = error_of(in_order)
    assert len(error.rows) == 3 and set(error.rows["ds"].astype(str)) == {"2024-01-02"}


def test_gaps_are_errors_unless_filling_is_asked():
    df = frame().drop(index=[1])
    error = error_of(df)
    assert "fill_gaps=True" in error.fix
    data = validate(df, fill_gaps=True)
    assert len(data.sales) == 6
    filled = data.sales[(data.sales.unique_id == "a") & (data.sales.ds == "2024-01-02")]
    assert filled["y"].tolist() == [0.0]
    assert data.report == ["filled 1 missing periods in 1 series with y=0"]


def test_weekly_and_monthly_frequencies_are_inferred():
    weekly = frame(ds=list(pd.date_range("2024-01-07", periods=3, freq="W-SUN")) * 2)
    assert validate(weekly).freq == "W-SUN"
    monthly = frame(ds=list(pd.date_range("2024-01-01", periods=3, freq="MS")) * 2)
    assert validate(monthly).freq == "MS"


def test_mixed_frequencies_are_rejected():
    daily = frame()
    weekly = frame(
        ds=[str(d.date()) for d in pd.date_range("2024-01-07", periods=3, freq="W-SUN")] * 2
    )
    weekly["unique_id"] = weekly["unique_id"] + "_weekly"
    error = error_of(pd.concat([daily, weekly]))
    assert "mixed frequencies" in error.problem


def test_dates_off_a_given_grid_are_rejected():
    error = error_of(frame(), freq="W-SUN")
    assert "not on the 'W-SUN' grid" in error.problem


def test_time_of_day_is_rejected():
    df = frame(ds=["2024-01-01 10:00", "2024-01-02", "2024-01-03"] * 2)
    assert "time of day" in error_of(df).problem


def test_empty_input_and_wrong_types():
    assert "no rows" in error_of(frame().iloc[:0]).problem
    with pytest.raises(TypeError, match="pandas or polars"):
        validate([1, 2, 3])


def test_absurd_dates_are_rejected():
    df = frame(ds=["1700-01-01", "1700-01-02", "1700-01-03"] * 2)
    assert "1900-2200" in error_of(df).problem


def test_missing_ids_are_rejected():
    assert "no series id" in error_of(frame(unique_id=["a", "a", None, "b", "b", "b"])).problem


def test_side_frames_with_unknown_ids_are_rejected():
    dynamic = pd.DataFrame({"unique_id": ["a", "q"], "ds": ["2024-01-01"] * 2, "price": [1, 2]})
    assert error_of(frame(), dynamic=dynamic).frame == "dynamic"
    reviews = pd.DataFrame(
        {"unique_id": ["q"], "ds": ["2024-01-01"], "rating": [5], "text": ["great"]}
    )
    assert error_of(frame(), reviews=reviews).frame == "reviews"


def test_side_frames_are_validated_and_kept():
    static = pd.DataFrame({"unique_id": ["a", "b"], "title": ["red mug", "wool scarf"]})
    dynamic = pd.DataFrame(
        {
            "unique_id": ["a"] * 4,
            "ds": pd.date_range("2024-01-01", periods=4),  # one future row: a known price plan
            "price": [1.0, 1.0, 0.8, 0.8],
        }
    )
    reviews = pd.DataFrame(
        {"unique_id": ["b"], "ds": ["2024-01-02"], "rating": ["4"], "text": ["ok"]}
    )
    data = validate(frame(), static=static, dynamic=dynamic, reviews=reviews)
    assert len(data.static) == 2 and len(data.dynamic) == 4
    assert data.reviews["rating"].tolist() == [4.0]
    # Text stored as a categorical (as parquet keeps it), one review without text.
    two = pd.DataFrame(
        {"unique_id": ["a", "b"], "ds": ["2024-01-02"] * 2, "rating": [5, 2], "text": ["ok", None]}
    ).astype({"text": "category"})
    assert validate(frame(), reviews=two).reviews["text"].tolist() == ["ok", ""]


def test_duplicate_static_rows_are_rejected():
    static = pd.DataFrame({"unique_id": ["a", "a", "b"], "title": ["x", "y", "z"]})
    assert "more than one row" in error_of(frame(), static=static).problem


def test_polars_input_is_accepted():
    data = validate(pl.from_pandas(frame()))
    assert len(data.sales) == 6


def test_error_message_names_column_rows_and_fix():
    message = str(error_of(frame(y=[1.0, -2.0, 2.0, 3.0, 4.0, 5.0])))
    assert message.startswith("sales: column 'y':")
    assert "2024-01-02" in message and "-2.0" in message
    assert "\nFix: " in message


def _grain_shop():
    from trendcast.data.simulate import simulate_shop

    return simulate_shop(
        n_items=4, n_stores=2, n_periods=200, seed=3, reviews=False, future_periods=7
    ).data


def test_dynamic_frames_at_any_grain_are_joined_onto_the_series():
    shop = _grain_shop()
    events = shop.dynamic[["ds", "event"]].drop_duplicates("ds")  # one row per date
    store = shop.static[["unique_id", "store_id"]].merge(shop.dynamic)
    store_price = store.groupby(["store_id", "ds"], as_index=False)["price"].mean()
    store_price = pd.concat([store_price, store_price.head(3).assign(store_id="S9")])
    per_series = shop.dynamic.drop(columns=["event", "price"])
    data = validate(
        shop.sales, static=shop.static, dynamic=[per_series, events, store_price.rename(
            columns={"price": "store_price"})]
    )  # fmt: skip
    got = data.dynamic.merge(shop.dynamic[["unique_id", "ds", "event"]], on=["unique_id", "ds"])
    assert (got["event_x"].astype(str) == got["event_y"].astype(str)).all()
    assert len(got) == len(shop.dynamic)
    expected = store.groupby(["store_id", "ds"])["price"].transform("mean")
    joined = store.assign(expected=expected).merge(data.dynamic, on=["unique_id", "ds"])
    np.testing.assert_allclose(joined["store_price"], joined["expected"])
    assert any("['event'] given per date, the same for every series" in r for r in data.report)
    assert any("['store_price'] given per store_id and date" in r for r in data.report)
    assert any("3 rows name store_id values no series has" in r for r in data.report)


def test_coarse_dynamic_frames_with_repeats_or_clashing_columns_are_refused():
    shop = _grain_shop()
    events = shop.dynamic[["ds", "event"]].drop_duplicates("ds")
    with pytest.raises(DataValidationError, match=r"dynamic\[1\].*share \(ds\)"):
        validate(shop.sales, dynamic=[shop.dynamic.drop(columns="event"), pd.concat([events] * 2)])
    with pytest.raises(DataValidationError, match=r"columns \['event'\] are also in dynamic\[0\]"):
        validate(shop.sales, dynamic=[shop.dynamic, events])


def test_a_per_date_plan_forecasts_as_the_same_plan_per_series():
    from trendcast import Forecaster
    from trendcast.models import LightGBM

    shop = _grain_shop()
    fc = Forecaster([LightGBM(n_estimators=30)]).fit(
        shop.sales, static=shop.static, dynamic=shop.dynamic
    )
    future = shop.dynamic[shop.dynamic["ds"] > shop.sales["ds"].max()]
    promo_days = future[["unique_id", "ds"]].assign(promo=1)
    per_date = future[["ds"]].drop_duplicates().assign(promo=1)
    pd.testing.assert_frame_equal(
        fc.predict(7, dynamic=promo_days), fc.predict(7, dynamic=per_date)
    )
    assert not fc.predict(7, dynamic=per_date).equals(fc.predict(7))


@pytest.mark.parametrize(
    "df, message",
    [
        (frame().assign(z=1).set_axis(["unique_id", "ds", "y", "y"], axis=1), "more than once"),
        (frame(y=[1 + 1j, 2, 3, 4, 5, 6]), "complex"),
        (
            frame(ds=pd.Series(pd.date_range("2500-01-01", periods=3, unit="s")).tolist() * 2),
            "not readable as dates",
        ),  # fmt: skip
        (frame(ds=pd.Series([20240101, 20240102, 20240103] * 2, dtype=object)), "holds numbers"),
        (frame(y=[2**53 + 1, 1, 1, 1, 1, 1]), "exceed 1e+15"),
        (frame(unique_id=[1, "1", 1, 2, 2, 2]), "ids mix integer, text"),
        (frame(ds=["2020-01-01", "2021-01-01", "2022-01-01"] * 2), "12 months"),
        (frame(ds=["2024-01-07", "2024-01-21", "2024-02-04"] * 2), "2 weeks"),
    ],
)
def test_values_no_model_can_keep_exactly_are_refused(df, message):
    assert message in str(error_of(df))


def test_anything_but_a_frame_is_a_data_error_and_a_lazy_frame_is_collected():
    with pytest.raises(DataValidationError, match="pandas or polars"):
        validate({"unique_id": ["a"], "ds": ["2024-01-01"], "y": [1]})
    assert len(validate(pl.from_pandas(frame()).lazy()).sales) == 6
