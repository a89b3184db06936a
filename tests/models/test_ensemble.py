import numpy as np
import pandas as pd

from tests.conftest import make_series
from trendcast import Forecaster
from trendcast.data.arrays import SeriesArrays
from trendcast.data.validate import validate
from trendcast.features.demand import demand_classes
from trendcast.models import Naive, SeasonalNaive
from trendcast.models.ensemble import Ensemble


def arrays(df):
    data = validate(df)
    return SeriesArrays.from_frame(data.sales, data.freq)


def test_demand_classes_follow_adi_and_cv2():
    t = 120
    rng = np.random.default_rng(0)
    shapes = {
        "smooth": np.full(t, 10.0) + rng.integers(0, 2, t),
        "erratic": rng.choice([1.0, 30.0], t),
        "intermittent": np.where(np.arange(t) % 4 == 0, 5.0, 0.0),
        "lumpy": np.where(np.arange(t) % 4 == 0, rng.choice([1.0, 40.0], t), 0.0),
    }
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(list(shapes), t),
            "ds": np.tile(pd.date_range("2024-01-01", periods=t), len(shapes)),
            "y": np.concatenate(list(shapes.values())),
        }
    )
    data = arrays(df)
    assert dict(zip(data.ids, demand_classes(data), strict=True)) == {k: k for k in shapes}


def test_ensemble_weights_the_better_model_and_stays_coherent():
    df = make_series(n_series=12, n_periods=200, amplitude=10.0, level=20.0)
    fc = Forecaster([Ensemble([Naive(), SeasonalNaive()])], quantiles=(0.1, 0.5, 0.9)).fit(df)
    weights = fc.models_[0].weights_
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    smooth = weights.loc["smooth"]
    assert smooth["SeasonalNaive"] > 0.6
    out = fc.predict(14)
    q = out[["Ensemble-q-0.1", "Ensemble-q-0.5", "Ensemble-q-0.9"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    members = Forecaster([Naive(), SeasonalNaive()]).fit(df).predict(14)
    low = np.minimum(members["Naive"], members["SeasonalNaive"])
    high = np.maximum(members["Naive"], members["SeasonalNaive"])
    assert ((out["Ensemble"] >= low - 1e-9) & (out["Ensemble"] <= high + 1e-9)).all()
