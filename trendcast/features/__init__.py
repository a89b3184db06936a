"""Features computed on grouped arrays: target lags and windows, calendar, covariates."""
