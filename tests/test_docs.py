"""The README's Python examples run as written."""

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert {"forecasts", "backtest"} <= set(namespace)


ORDER_LOG = (
    README.parents[1]
    / "shared"
    / "data"
    / "online_retail"
    / "online_retail_first240006_with_ids.parquet"
)


@pytest.mark.skipif(not ORDER_LOG.exists(), reason="the Online Retail log is not in ../shared")
def test_readme_order_log_tutorial_runs_on_a_slice_of_the_real_log(tmp_path, monkeypatch, capsys):
    """The tutorial's commands, as written, on the lines of 40 real products and the log's
    postage and manual lines, written as the shop system exports them (text dates)."""
    from trendcast.cli import main
    from trendcast.data.adapters.transactions import NON_PRODUCTS

    text = README.read_text()
    tutorial = text[text.index("### A shop's own order log") :]
    block = re.search(r"```bash\n(.*?)```", tutorial, flags=re.S).group(1)
    commands = [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [
        ["trendcast", "import"],
        ["trendcast", "plan"],
        ["trendcast", "price"],
        ["trendcast", "trends"],
    ]
    log = pd.read_parquet(ORDER_LOG)
    codes = log.loc[log["Quantity"] > 0, "StockCode"].value_counts().index
    products = codes[~codes.str.fullmatch(NON_PRODUCTS, case=False)][:40]
    keep = log["StockCode"].isin([*products, "POST", "DOT", "M"])
    log[keep].to_csv(tmp_path / "orders.csv", index=False)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert main(command[1:]) == 0, command
    out = capsys.readouterr().out
    assert "non-product lines: POST (560), DOT (429), M (265)" in out and "netted" in out

    orders = pd.read_csv("orders_to_place.csv", dtype={"unique_id": str})
    prices = pd.read_csv("prices.csv", dtype={"item_id": str})
    assert set(orders["unique_id"]) == set(products) == set(prices["item_id"])
    assert not orders["unique_id"].str.fullmatch(NON_PRODUCTS, case=False).any()
    # The buyer's checks (BENCHMARKS.md): no unflagged order above the cap; a price changes
    # only where the elasticity is surely negative; everything else keeps today's price.
    over = orders["order_qty"] > 2 * orders["recent_max"] * 2
    assert orders.loc[over, "check"].notna().all()
    changed = prices["action"] == "change"
    assert (prices.loc[~changed, "new_price"] == prices.loc[~changed, "price"]).all()
    assert prices.loc[changed, "reason"].str.startswith("change").all()
    page = (tmp_path / "trends.html").read_text()
    assert "<svg" in page and sum(f">{p}<" in page for p in products) >= 20
