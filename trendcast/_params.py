"""Hyperparameters as constructor arguments: `get_params`, `set_params` and `clone`."""

from __future__ import annotations

import copy
import inspect
from typing import Any

from trendcast.errors import NotFittedError


class Estimator:
    """Mixin for objects whose ``__init__`` only stores its keyword arguments as attributes
    of the same names, and whose learned state ends in ``_``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any):
        """Changes constructor arguments in place; returns ``self``. Refit to use them."""
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no parameter {unknown}; it has {self._param_names()}."
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def clone(self):
        """A new, unfitted object with equal parameters (estimators among them cloned too)."""
        return type(self)(**{k: _clone_value(v) for k, v in self.get_params().items()})

    @property
    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _check_fitted(self, method: str) -> None:
        if not self.is_fitted:
            name = getattr(self, "alias", None) or type(self).__name__
            raise NotFittedError(f"{name} is not fitted yet: call fit(...) before {method}(...).")


def _clone_value(value: Any) -> Any:
    if isinstance(value, Estimator):
        return value.clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_clone_value(v) for v in value)
    return copy.deepcopy(value)
