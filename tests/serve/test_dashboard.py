"""The dashboard in a real headless Chromium: every page loads clean, the charts draw their data,
the what-if slider redraws the forecast, uploads and promotions show what the API answered, and
values that look like markup or formulas show as text."""

import base64
import json
import shutil

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import CHROMIUM

MARKUP = "<script>alert('trend')</script>"
FORMULA = '=HYPERLINK("http://example.com","x")'
PAGES = ["/", "/series", "/trends", "/orders", "/prices", "/models", "/upload"]


@pytest.fixture(scope="module")
def board(served_workspace, tmp_path_factory):
    """A server over a copy of the served workspace (so its promotions leave the shared one
    alone), with a second forecast run to compare with, alerts, an accuracy table, and markup
    and a formula among the trend table's values."""
    from tests.serve.conftest import Server
    from trendcast.app import forecast_saved
    from trendcast.data.store import Workspace
    from trendcast.serve import create_app

    source = served_workspace["path"]
    path = tmp_path_factory.mktemp("board") / source.name
    for suffix in ("", ".wal"):
        if source.with_name(source.name + suffix).exists():
            shutil.copy(source.with_name(source.name + suffix), path.with_name(path.name + suffix))
    models = source.with_name(source.name + ".models")
    shutil.copytree(models, path.with_name(path.name + ".models"))
    ws = Workspace(path)
    forecasts = forecast_saved(ws, "shop").forecasts
    # The run before forecast 20% less, then the model forecast again as it does now.
    lower = forecasts.assign(LightGBM=forecasts["LightGBM"] * 0.8)
    ws.write_run("forecast", meta={"model": "shop@1"}, results={"shop_forecasts": lower})
    forecast_saved(ws, "shop")
    series = sorted(forecasts["unique_id"].astype(str).unique())
    trends = ws.read("trends")
    trends.loc[0, ["item_id", "reason", "trend"]] = [FORMULA, MARKUP, "rising"]
    ws.write("trends", trends)
    # As `trendcast update` writes them: every model's alerts; errors per date, step and group.
    alerts = pd.DataFrame({"model": ["shop", "other"], "kind": "level", "group_col": "all",
                           "group": "all", "message": [MARKUP, "not this model's"],
                           "detected": pd.Timestamp("2022-09-01")})  # fmt: skip
    ws.write("alerts", alerts)
    days = np.repeat(pd.date_range("2022-08-31", periods=3), 4)
    accuracy = pd.DataFrame({
        "model": np.tile(["LightGBM", "LightGBM", "Naive", "LightGBM"], 3), "ds": days,
        "step": np.tile([1, 2, 1, 1], 3), "group_col": np.tile(["all"] * 3 + ["store_id"], 3),
        "actual": np.arange(12.0) + 10, "abs_error": np.arange(12.0),
    })  # fmt: skip
    ws.write("shop_accuracy", accuracy)
    running = Server(create_app(path))
    yield {"url": running.url, "path": path, "keys": served_workspace["keys"], "series": series}
    running.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no browser download); the tests that use it are
    skipped without them."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (make test installs it)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser, board):
    # One context for the module: plotly.js is read from its cache after the first page.
    context = browser.new_context(base_url=board["url"], viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A fresh tab (its own session storage, so no key) that records console errors, script
    errors, dialogs and failed requests."""
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda m: m.type == "error" and tab.problems.append(f"console: {m.text}"))
    tab.on("pageerror", lambda e: tab.problems.append(f"script error: {e}"))
    tab.on("requestfailed", lambda r: tab.problems.append(f"failed: {r.url} {r.failure}"))
    tab.on("response", lambda r: r.status >= 400 and tab.problems.append(f"{r.status}: {r.url}"))
    tab.on("dialog", lambda d: (tab.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield tab
    tab.close()


def _figure(tab, chart: str) -> list[dict]:
    """The traces the server sent to draw ``chart``, with numpy's base64 arrays decoded."""

    def plain(values):
        if isinstance(values, dict) and "bdata" in values:
            return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).tolist()
        return values

    traces = json.loads(tab.get_attribute(f"#{chart}", "data-figure"))["data"]
    return [{**t, "x": plain(t.get("x")), "y": plain(t.get("y"))} for t in traces]


def _drawn_lines(tab, chart: str) -> int:
    """How many of the chart's traces have a line drawn in its svg."""
    return tab.locator(f"#{chart} .scatterlayer .trace path.js-line[d*='L']").count()


def test_every_page_loads_without_errors_or_failed_requests(page, board):
    for path in [*PAGES, f"/series/{board['series'][0]}"]:
        response = page.goto(path)
        assert response.ok, path
        assert page.locator("nav a.here").count() == 1, path
    page.wait_for_selector("#series-chart .main-svg")
    assert page.problems == []


def test_the_overview_shows_the_model_its_changes_and_its_charts(page, board):
    from trendcast.data.store import Workspace

    page.goto("/")
    page.wait_for_selector("#accuracy-chart .main-svg")
    text = page.inner_text("main")
    version = Workspace(board["path"]).models.get("shop")
    assert version.ref in text and version.meta["data_hash"][:12] in text
    assert "No backtest scores" in text  # the fixture trains without backtest windows
    assert "in the run before" in text and "No alerts" not in text
    assert "not this model's" not in text
    assert _drawn_lines(page, "total-chart") == 2 and _drawn_lines(page, "accuracy-chart") == 2
    sold, forecast = _figure(page, "total-chart")
    stored = Workspace(board["path"]).read("shop_forecasts")
    assert forecast["y"] == pytest.approx(stored.groupby("ds")["LightGBM"].sum().tolist())
    # WAPE per date over every step of all series: (0 + 1) / (10 + 11) on the first date
    lightgbm, naive = _figure(page, "accuracy-chart")
    assert lightgbm["y"] == pytest.approx([1 / 21, 9 / 29, 17 / 37])
    assert naive["y"] == pytest.approx([2 / 12, 6 / 16, 10 / 20])
    assert page.problems == []


def test_choosing_a_series_shows_its_forecast_with_history_and_band(page, board):
    from trendcast.data.store import Workspace

    wanted = board["series"][3]
    page.goto("/series")
    page.fill("#series-search", wanted)
    page.press("#series-search", "Enter")
    page.wait_for_url(f"**/series/{wanted}")
    assert page.inner_text("h1") == wanted
    page.wait_for_selector("#series-chart .main-svg")
    # history, the band's two edges and the forecast; the what-if trace stays empty
    assert _drawn_lines(page, "series-chart") == 4
    traces = {t["name"]: t for t in _figure(page, "series-chart")}
    stored = Workspace(board["path"]).read("shop_forecasts")
    mine = stored[stored["unique_id"] == wanted]
    assert traces["LightGBM forecast"]["y"] == pytest.approx(mine["LightGBM"].tolist())
    assert traces["0.1-0.9 quantiles"]["y"] == pytest.approx(mine["LightGBM-q-0.1"].tolist())
    assert "store_id" in page.inner_text("dl.facts")
    page.click("nav a[href='/series']")
    page.click(f"ul.ids a:text-is('{board['series'][1]}')")
    assert page.inner_text("h1") == board["series"][1]
    assert page.problems == []


def test_the_what_if_slider_redraws_the_forecast_as_the_api_makes_it(page, board):
    series = board["series"][2]
    page.goto(f"/series/{series}")
    page.wait_for_selector("#series-chart .main-svg")
    plan = json.loads(page.get_attribute("#whatif", "data-plan"))
    page.focus("#whatif input[type=range]")
    with page.expect_request("**/v1/whatif*") as asked:
        page.keyboard.press("Home")  # the slider's minimum: 30% off
    page.wait_for_selector("#whatif .message.ok")
    assert page.inner_text("#whatif .pct") == "-30%"
    sent = asked.value.post_data_json["plan"]
    assert [r["ds"] for r in sent] == plan["dates"]
    assert [r["price"] for r in sent] == pytest.approx([p * 0.7 for p in plan["prices"]], abs=0.006)
    drawn = page.evaluate("() => Array.from(document.getElementById('series-chart').data[4].y)")
    answer = httpx.post(f"{board['url']}/v1/whatif", json={"plan": sent}).json()["forecasts"]
    assert drawn == pytest.approx([r["LightGBM"] for r in answer])
    assert drawn != pytest.approx(_figure(page, "series-chart")[3]["y"])
    assert _drawn_lines(page, "series-chart") == 5
    assert page.problems == []
    # When the API fails, the page says so rather than drawing nothing.
    failed = json.dumps({"error": "internal error", "incident": "abc123"})
    page.route("**/v1/whatif*", lambda route: route.fulfill(status=500, body=failed))
    page.keyboard.press("End")
    page.wait_for_selector("#whatif .message.error")
    message = page.inner_text("#whatif .message")
    assert "failed" in message and "abc123" in message


def test_a_bad_upload_shows_the_validation_message_and_stores_nothing(page, board):
    from trendcast.data.store import Workspace

    before = Workspace(board["path"]).read("input_sales")
    page.goto("/upload")
    page.fill("#api-key", board["keys"]["write"])
    page.dispatch_event("#api-key", "change")
    bad = b"unique_id,ds,y\nx,2024-01-01,1\nx,2024-01-01,2\n"
    page.set_input_files("input[name=file]", {"name": "bad.csv", "mimeType": "text/csv",
                                              "buffer": bad})  # fmt: skip
    page.select_option("select[name=frame]", "sales")
    page.click("#upload-form button")
    page.wait_for_selector("#upload-message.error")
    message = page.inner_text("#upload-message")
    assert "needs fixing" in message and "share an (id, period)" in message and "Fix:" in message
    pd.testing.assert_frame_equal(Workspace(board["path"]).read("input_sales"), before)


def test_promotion_needs_a_write_key_and_then_works(page, board):
    from trendcast.data.store import Workspace

    live = Workspace(board["path"]).models.get("shop")
    button = f"button[data-action=promote][data-version='{live.version}']"
    page.goto("/models")
    page.click(button)
    page.wait_for_selector("#models-message.error")
    assert "401" in page.inner_text("#models-message")
    assert "valid API key" in page.inner_text("#models-message")
    page.fill("#api-key", board["keys"]["read"])
    page.dispatch_event("#api-key", "change")
    page.click(button)
    page.wait_for_selector("#models-message.error:has-text('403')")
    assert "may only read" in page.inner_text("#models-message")
    page.fill("#api-key", board["keys"]["write"])
    page.dispatch_event("#api-key", "change")
    page.click(button)  # the version already in production: the shop stays as it was
    page.wait_for_selector("#models-message.ok")
    assert f"{live.ref} is in production" in page.inner_text("#models-message")
    assert Workspace(board["path"]).models.get("shop").ref == live.ref


def test_values_that_look_like_markup_or_formulas_show_as_text(page, board):
    page.goto("/trends")
    assert MARKUP in page.inner_text("main") and FORMULA in page.inner_text("main")
    page.goto("/")
    assert MARKUP in page.inner_text("main")
    response = page.goto("/series/" + MARKUP)
    assert response.status == 404 and MARKUP in page.inner_text("main")
    assert not [p for p in page.problems if p.startswith(("dialog", "script error"))]


def test_without_a_price_in_the_model_the_slider_is_replaced_by_a_note(tmp_path):
    from fastapi.testclient import TestClient

    from trendcast import simulate_shop
    from trendcast.app import train
    from trendcast.models import Naive
    from trendcast.serve import create_app

    shop = simulate_shop(n_items=2, n_stores=1, n_periods=60, seed=1, future_periods=7,
                         reviews=False)  # fmt: skip
    ws = tmp_path / "naive.duckdb"
    train(shop.data, ws, "naive", models=[Naive()], horizon=7, n_windows=0)
    with TestClient(create_app(ws)) as client:
        series = str(shop.data.sales["unique_id"].iloc[0])
        page = client.get(f"/series/{series}")
        assert page.status_code == 200
        assert "reads no price" in page.text and "id='whatif'" not in page.text
        assert "No trends table yet" in client.get("/trends").text


def test_with_keys_for_reads_the_pages_need_a_key_too(served_workspace):
    from fastapi.testclient import TestClient

    from trendcast.serve import create_app

    with TestClient(create_app(served_workspace["path"], keys_for_reads=True)) as client:
        locked = client.get("/orders")
        assert locked.status_code == 401 and "A key is needed" in locked.text
        assert "order_qty" not in locked.text
        client.cookies.set("trendcast_key", served_workspace["keys"]["read"])
        assert client.get("/orders").status_code == 200
        assert "order_qty" in client.get("/orders").text
