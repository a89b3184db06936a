"""Small torch helpers shared by the neural models (torch is imported only when they run)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def torch_device(device: str):
    """``device`` as a torch device; ``"auto"`` is CUDA when available, else the CPU.

    An unknown name, or a GPU that torch does not see, is a `ValueError` saying what to pass.
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"`device` must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}."
        ) from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (resolved.index or 0) >= count:
            raise ValueError(
                f"device {device!r} asks for a GPU, but torch sees {count}; use device='auto' "
                "(a GPU when there is one) or 'cpu'."
            )
    return resolved


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Runs a block with ``n`` torch CPU threads (None: as they are), then restores them.

    On a busy or small machine fewer threads are often faster: OpenMP threads that wait on each
    other can slow small models down many times over.
    """
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
