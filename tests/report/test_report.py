"""The report is a page people open: checked as text and rendered in headless Chromium."""

import pytest

from tests.conftest import make_series, needs_chromium, rendered_dom
from trendcast import Forecaster
from trendcast.evaluation.backtest import score_backtest
from trendcast.models import Naive, SeasonalNaive
from trendcast.report.html import write_report

QUANTILES = (0.1, 0.5, 0.9)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    sales = make_series(n_series=8, n_periods=150, amplitude=10.0, level=20.0)
    fc = Forecaster([Naive(), SeasonalNaive()], quantiles=QUANTILES)
    backtest = fc.backtest(sales, h=14, n_windows=2)
    scores = score_backtest(fc.backtest_, sales, seasonality=7)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(
        path,
        title="test shop",
        history=sales,
        forecasts=fc.fit(sales).predict(14),
        backtest=backtest,
        scores=scores,
        best_model="SeasonalNaive",
        quantiles=QUANTILES,
        notes=["8 series <generated>"],
    )
    return path


def test_report_holds_scores_notes_and_plots(report):
    page = report.read_text()
    assert page.count("<tr") == 3  # header + two models
    assert "class='best'><td>SeasonalNaive" in page
    assert "8 series &lt;generated&gt;" in page  # notes are escaped
    assert page.count("Plotly.newPlot") == 3
    assert '<script src="http' not in page  # plotly.js is embedded, the file opens offline


@needs_chromium
def test_report_renders_in_headless_chromium(report, tmp_path):
    dom = rendered_dom(report, tmp_path)
    assert dom.count('class="plotly-graph-div js-plotly-plot"') == 3
    assert dom.count('class="main-svg"') >= 6  # plotly drew SVG, so the scripts ran
    assert "SeasonalNaive forecast" in dom and "0.1-0.9 quantiles" in dom
