"""Count regressions for the elasticity fits: ridge-stabilised Poisson (or negative binomial)
regression by iteratively reweighted least squares, least squares, and sandwich (robust)
covariances, valid under overdispersion.
"""

from __future__ import annotations

import numpy as np

_MAX_ITER = 50
_TOL = 1e-8
_MAX_ETA = 30.0  # log-link bound: exp(30) is far beyond any count


def _count_regression(
    design: np.ndarray, y: np.ndarray, offset: np.ndarray, penalty: np.ndarray, *, negbin: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge-stabilised Poisson regression (IRLS) with a sandwich covariance.

    With ``negbin``, a second pass reweights rows as a negative binomial with variance
    ``mu + alpha mu^2`` (``alpha`` by moments from the Poisson fit): busy days, whose noise
    grows faster than their mean, then count less, which makes the estimate more precise.
    """
    coef, mu = _irls(design, y, offset, penalty, alpha=0.0)
    alpha = 0.0
    if negbin:
        alpha = max(np.sum((y - mu) ** 2 - mu) / max(np.sum(mu**2), 1e-12), 0.0)
        coef, mu = _irls(design, y, offset, penalty, alpha=alpha, start=coef)
    weight = mu / (1 + alpha * mu)
    hessian = (design.T * weight) @ design + np.diag(penalty)
    return coef, _sandwich(design, hessian, (y - mu) / (1 + alpha * mu))


def _irls(
    design: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    penalty: np.ndarray,
    *,
    alpha: float,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solves ``X' (y - mu) / (1 + alpha mu) = penalty * coef`` for a log link."""
    if start is None:
        # Start at the log mean: the series levels absorb it in one step.
        eta = np.full(len(y), np.log(max(y.mean(), 1e-3)))
    else:
        eta = design @ start
    previous = np.inf
    for _ in range(_MAX_ITER):
        mu = np.exp(np.clip(eta + offset, -_MAX_ETA, _MAX_ETA))
        weight = mu / (1 + alpha * mu)
        working = eta + (y - mu) / mu
        hessian = (design.T * weight) @ design + np.diag(penalty)
        coef = np.linalg.solve(hessian, (design.T * weight) @ working)
        eta = design @ coef
        # Poisson deviance as the stopping rule: it settles even where a control drifts
        # toward minus infinity over a stretch of zeros.
        mu = np.exp(np.clip(eta + offset, -_MAX_ETA, _MAX_ETA))
        deviance = 2 * np.sum(y * np.log(np.where(y > 0, y, 1) / np.where(y > 0, mu, 1)) - (y - mu))
        if abs(previous - deviance) <= _TOL * (abs(deviance) + 1):
            break
        previous = deviance
    mu = np.exp(np.clip(eta + offset, -_MAX_ETA, _MAX_ETA))
    return coef, mu


def _least_squares(
    design: np.ndarray, target: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    hessian = design.T @ design + np.diag(penalty)
    coef = np.linalg.solve(hessian, design.T @ target)
    return coef, _sandwich(design, hessian, target - design @ coef)


def _sandwich(design: np.ndarray, hessian: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """Robust covariance ``H^-1 X' diag(r^2) X H^-1``, with the small-sample factor n / (n - p)."""
    n, p = design.shape
    bread = np.linalg.inv(hessian)
    meat = (design.T * residual**2) @ design
    return bread @ meat @ bread * (n / max(n - p, 1))
