"""Exceptions shared by every layer."""


class NotFittedError(RuntimeError, AttributeError):
    """A model, forecaster or text model was asked for results before `fit`."""


class WorkspaceBusyError(RuntimeError):
    """Another process holds the workspace file for writing."""
