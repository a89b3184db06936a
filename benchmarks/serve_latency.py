"""Latency of `trendcast serve` on the loopback interface under concurrent clients.

Serves a copy of the demo workspace (``make demo`` makes it: 180 series, LightGBM and the
classical line-up, 28 days ahead) with ``trendcast serve`` in its own process, then runs
``--clients`` concurrent clients, each sending its requests one after another, for three kinds
of request: one series' stored forecast (a random series each time), a batch of 100 series, and
a what-if for one series (its price over the forecast days cut by 10%, forecast on demand).
Reports p50/p95/p99 latency, throughput and errors per kind.

Run: ``.venv/bin/python benchmarks/serve_latency.py [--clients 50 --requests 20]`` after
``make demo``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

DEMO = Path(__file__).resolve().parents[1] / "trendcast-demo"


async def _clients(url: str, make, n_clients: int, n_requests: int) -> tuple[list, int, float]:
    latencies, errors = [], 0
    limits = httpx.Limits(max_connections=n_clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def one_client(k: int) -> None:
            nonlocal errors
            rng = np.random.default_rng(k)
            for _ in range(n_requests):
                method, path, kwargs = make(rng)
                started = time.perf_counter()
                reply = await http.request(method, path, **kwargs)
                latencies.append(time.perf_counter() - started)
                errors += reply.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(one_client(k) for k in range(n_clients)))
    return latencies, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="per client and kind")
    args = parser.parse_args()
    if not (DEMO / "trendcast.duckdb").exists():
        raise SystemExit("run make demo first: it makes the workspace served here")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(DEMO, Path(tmp) / "demo")
        ws = Path(tmp) / "demo" / "trendcast.duckdb"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "trendcast.cli", "serve", "--workspace", str(ws),
             "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url)
            ids = sorted({r["unique_id"] for r in httpx.get(f"{url}/v1/forecasts",
                          params={"limit": 1000}, timeout=60).json()["forecasts"]})  # fmt: skip
            first = httpx.get(f"{url}/v1/forecasts/{ids[0]}", timeout=60).json()["forecasts"]
            dates = [row["ds"] for row in first]
            prices = _prices(ws, dates)

            def one(rng):
                return "GET", f"/v1/forecasts/{ids[rng.integers(len(ids))]}", {}

            def batch(rng):
                picked = rng.choice(ids, size=min(100, len(ids)), replace=False)
                return (
                    "GET",
                    "/v1/forecasts",
                    {"params": {"series": ",".join(picked), "limit": 100}},
                )

            def what_if(rng):
                series = ids[rng.integers(len(ids))]
                plan = [{"unique_id": series, "ds": d, "price": 0.9 * prices.get((series, d), 1.0)}
                        for d in dates]  # fmt: skip
                return "POST", "/v1/whatif", {"json": {"plan": plan}}

            rows = []
            for name, make, n in (
                ("one series", one, args.requests),
                ("100 series", batch, args.requests),
                ("what-if, one series", what_if, max(1, args.requests // 4)),
            ):
                latencies, errors, seconds = asyncio.run(_clients(url, make, args.clients, n))
                p = np.percentile(latencies, [50, 95, 99]) * 1000
                rows.append({"request": name, "requests": len(latencies), "p50 ms": p[0],
                             "p95 ms": p[1], "p99 ms": p[2],
                             "requests/s": len(latencies) / seconds, "errors": errors})  # fmt: skip
            table = pd.DataFrame(rows)
            print(f"{args.clients} concurrent clients, {len(ids)} series")
            print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait(url: str) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def _prices(ws: Path, dates: list[str]) -> dict:
    from trendcast.app.forecasting import load_saved

    forecaster, _ = load_saved(ws, "sample")
    dynamic = forecaster.data_.dynamic
    if dynamic is None or "price" not in dynamic:
        return {}
    rows = dynamic[dynamic["ds"].dt.strftime("%Y-%m-%d").isin(dates)]
    return {(str(i), f"{d:%Y-%m-%d}"): float(p)
            for i, d, p in zip(rows["unique_id"], rows["ds"], rows["price"], strict=True)}  # fmt: skip


if __name__ == "__main__":
    main()
