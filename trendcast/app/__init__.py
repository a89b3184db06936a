"""The use cases of trendcast on a workspace, as plain functions: read and validate a shop,
backtest, train and save, forecast from a saved model with a new plan, manage model versions,
read the workspace back (its tables, runs, exports and report).

The command line, the demo and the REST API are faces over these; they parse and print, the
functions here do the work and store what a run produced together with its run id.

Example:
    >>> import tempfile, os
    >>> from trendcast import simulate_shop
    >>> from trendcast.app import forecast_saved, train
    >>> from trendcast.models import SeasonalNaive
    >>> shop = simulate_shop(n_items=4, n_stores=1, n_periods=120, reviews=False)
    >>> ws = os.path.join(tempfile.mkdtemp(), "shop.duckdb")
    >>> trained = train(shop.data, ws, "shop", models=[SeasonalNaive()], horizon=7)
    >>> trained.version.ref
    'shop@1'
    >>> len(forecast_saved(ws, "shop").forecasts)
    28
"""

from trendcast.app.decisions import coming_plan, decision_forecaster, new_products, trends
from trendcast.app.forecasting import (
    Forecast,
    Trained,
    backtest_shop,
    finetune_chronos,
    fit_and_forecast,
    forecast_saved,
    load_saved,
    train,
)
from trendcast.app.imports import Imported, import_orders, workspace_shop
from trendcast.app.models import list_models, promote, rollback
from trendcast.app.shop import as_frame, data_hash, read_shop, segment, training_span
from trendcast.app.text import ReviewCovariates, review_covariates
from trendcast.app.update import Refit, Updated  # update(...): trendcast.app.update.update
from trendcast.app.workspace import (
    StoredTable,
    WorkspaceReport,
    export_table,
    keep_runs,
    read_table,
    workspace_report,
    workspace_runs,
    workspace_tables,
)

__all__ = [
    "Forecast",
    "Imported",
    "Refit",
    "ReviewCovariates",
    "StoredTable",
    "Trained",
    "Updated",
    "WorkspaceReport",
    "as_frame",
    "backtest_shop",
    "coming_plan",
    "finetune_chronos",
    "data_hash",
    "decision_forecaster",
    "export_table",
    "fit_and_forecast",
    "forecast_saved",
    "import_orders",
    "keep_runs",
    "list_models",
    "new_products",
    "load_saved",
    "promote",
    "read_shop",
    "read_table",
    "review_covariates",
    "rollback",
    "segment",
    "train",
    "training_span",
    "trends",
    "workspace_report",
    "workspace_runs",
    "workspace_shop",
    "workspace_tables",
]
