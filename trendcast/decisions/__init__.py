"""What to do about a forecast: inventory, pricing, trend reports, promotion candidates.

Pure functions on long frames, one concern per module:

* `trendcast.decisions.inventory`: demand over lead time and review period, safety stock, reorder
  points, order quantities, newsvendor quantities.
* `trendcast.decisions.simulation`: replays held-out demand under an ordering policy and scores it.
* `trendcast.decisions.elasticity`: price elasticities per item, shrunk toward the category
  (its count regressions in `trendcast.decisions.glm`).
* `trendcast.decisions.pricing`: price-response curves and the best price within bounds.
* `trendcast.decisions.what_if`: forecasts under another price or promotion plan, no refit.
* `trendcast.decisions.trends`: growth, trend labels and the "what's trending" query.
* `trendcast.decisions.promotions`: items worth promoting, pushing or protecting.
"""
