"""Fitted objects saved as folders of safe formats, never pickle.

``state.json`` holds the object as a tree of plain values; numbers in arrays go to
``arrays.npz`` (read with ``allow_pickle=False``), frames to Parquet, LightGBM boosters to their
model text, and an object may write files of its own (e.g. safetensors weights) into a folder it
is given. Classes are written by name and looked up, when read, in an allow-list the caller
passes: a hand-edited file can name no other class, so reading never runs foreign code. Every
file's SHA-256 is recorded in ``state.json``, which carries a checksum of itself: a truncated or
edited folder is refused with a clear error instead of giving different forecasts.

An allowed class may define ``_saved_state(folder) -> dict`` and
``_restore_state(state, folder)`` to choose what it saves (default: its ``__dict__``).
"""

from __future__ import annotations

import hashlib
import json
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "trendcast-saved"
FORMAT_VERSION = 1
_STATE_FILE = "state.json"
_ARRAYS_FILE = "arrays.npz"


class SavedStateError(ValueError):
    """A saved folder that cannot be read back: missing, truncated, edited or of another format."""


def write_state(folder: str | Path, obj: Any, *, kind: str, allowed: dict[str, str]) -> None:
    """Writes ``obj`` (an instance of a class in ``allowed``) into the empty folder ``folder``.

    Args:
        kind: what the folder holds (e.g. ``"model"``); `read_state` checks it.
        allowed: class name -> its module, of every object that may appear in the tree.
    """
    folder = Path(folder)
    writer = _Writer(folder, allowed)
    tree = writer.encode(obj)
    if writer.arrays:
        np.savez(folder / _ARRAYS_FILE, **writer.arrays)
    files = {
        str(p.relative_to(folder)): _sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != _STATE_FILE
    }
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "trendcast_version": _version(),
        "files": files,
        "tree": tree,
    }
    document = {**body, "checksum": _checksum(body)}
    (folder / _STATE_FILE).write_text(json.dumps(document, indent=1, allow_nan=True))


def read_state(folder: str | Path, *, kind: str, allowed: dict[str, str]) -> Any:
    """Reads back what `write_state` wrote, after checking format, version and checksums."""
    folder = Path(folder)
    body = read_header(folder, kind=kind)
    for name, digest in body["files"].items():
        path = folder / name
        if not path.is_file() or _sha256(path) != digest:
            raise SavedStateError(
                f"{path} is missing or differs from when it was saved (truncated or edited): "
                "the saved folder cannot be trusted. Save the model again."
            )
    arrays = {}
    if (folder / _ARRAYS_FILE).exists():
        with np.load(folder / _ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    return _Reader(folder, allowed, arrays).decode(body["tree"])


def read_header(folder: str | Path, *, kind: str) -> dict:
    """The checked contents of ``state.json`` (format, version, kind, files, tree)."""
    from trendcast.data.io import recover_folder

    try:  # a replacement a killed process left half-done is finished first
        recover_folder(folder)
    except OSError:
        pass  # a folder this process may not change is read as it is
    path = Path(folder) / _STATE_FILE
    if not path.is_file():
        raise SavedStateError(
            f"{folder} holds no saved {kind} (no {_STATE_FILE}): give the folder that "
            f"save(...) wrote."
        )
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SavedStateError(
            f"{path} is not valid JSON ({error}); the file is truncated or damaged. "
            "Save the model again."
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SavedStateError(f"{path} is not a trendcast saved {kind}.")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise SavedStateError(
            f"{path} has format version {version!r}; this trendcast ({_version()}) reads "
            f"version {FORMAT_VERSION}. Load it with the trendcast version that saved it "
            f"({document.get('trendcast_version')}) or train the model again."
        )
    checksum = document.pop("checksum", None)
    if checksum != _checksum(document):
        raise SavedStateError(
            f"{path} was changed after it was saved (its checksum does not match): the saved "
            f"{kind} cannot be trusted. Save it again instead of editing the file."
        )
    if document.get("kind") != kind:
        raise SavedStateError(f"{folder} holds a saved {document.get('kind')}, not a {kind}.")
    return document


class _Writer:
    def __init__(self, folder: Path, allowed: dict[str, str]):
        self.folder, self.allowed = folder, allowed
        self.arrays: dict[str, np.ndarray] = {}
        self.counter = 0
        # An object held in several places is written once, then referred to.
        self.written: dict[int, str] = {}
        self.held: list[Any] = []  # keeps the ids of `written` from being reused

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def encode(self, value: Any, where: str = "") -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            return value
        if isinstance(value, np.generic):
            if isinstance(value, np.datetime64):
                return {"__datetime64__": str(value)}
            return self.encode(value.item(), where)
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            return {
                "__dict__": [
                    [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, pd.DataFrame):
            return {"__frame__": self._frame(value, where)}
        if isinstance(value, pd.Series):
            frame = value.to_frame("values")
            return {"__series__": self._frame(frame, where), "name": self.encode(value.name)}
        if isinstance(value, pd.Timestamp):
            return {"__timestamp__": value.isoformat()}
        if isinstance(value, Path):
            return {"__path__": str(value)}
        if type(value).__module__.startswith("lightgbm") and hasattr(value, "model_to_string"):
            name = self._next("booster") + ".txt"
            (self.folder / name).write_text(value.model_to_string())
            return {"__booster__": name}
        cls = type(value)
        if self.allowed.get(cls.__name__) == cls.__module__:
            return self._object(value, cls.__name__, where)
        raise TypeError(
            f"cannot save {where or 'the object'}: {cls.__module__}.{cls.__name__} has no safe "
            "saved form."
        )

    def _array(self, value: np.ndarray, where: str) -> dict:
        if value.dtype == object:
            flat = value.reshape(-1)
            if all(isinstance(v, str) for v in flat):
                key = self._next("a")
                self.arrays[key] = value.astype(str)
                return {"__array__": key, "object": True}
            if all(v is None or isinstance(v, (bool, int, float)) for v in flat):
                return {"__objects__": flat.tolist(), "shape": list(value.shape)}
            raise TypeError(
                f"cannot save {where}: an object array holding other than strings or numbers."
            )
        key = self._next("a")
        self.arrays[key] = value
        return {"__array__": key}

    def _frame(self, frame: pd.DataFrame, where: str) -> str:
        name = self._next("frame") + ".parquet"
        try:
            frame.to_parquet(self.folder / name)
        except (TypeError, ValueError) as error:
            raise TypeError(f"cannot save the frame {where} as Parquet: {error}") from error
        return name

    def _object(self, value: Any, name: str, where: str) -> dict:
        if id(value) in self.written:
            return {"__ref__": self.written[id(value)]}
        own = self.folder / self._next("object")
        self.written[id(value)] = own.name
        self.held.append(value)
        if hasattr(value, "_saved_state"):
            own.mkdir()
            state = value._saved_state(own)
            if not any(own.iterdir()):
                own.rmdir()
        else:
            state = vars(value)
        encoded = {k: self.encode(v, f"{where}.{k}" if where else k) for k, v in state.items()}
        return {"__object__": name, "folder": own.name, "state": encoded}


class _Reader:
    def __init__(self, folder: Path, allowed: dict[str, str], arrays: dict[str, np.ndarray]):
        self.folder, self.allowed, self.arrays = folder, allowed, arrays
        self.read: dict[str, Any] = {}

    def decode(self, tree: Any) -> Any:
        if isinstance(tree, list):
            return [self.decode(v) for v in tree]
        if not isinstance(tree, dict):
            return tree
        if "__tuple__" in tree:
            return tuple(self.decode(v) for v in tree["__tuple__"])
        if "__dict__" in tree:
            return {self.decode(k): self.decode(v) for k, v in tree["__dict__"]}
        if "__array__" in tree:
            array = self.arrays[tree["__array__"]]
            return array.astype(object) if tree.get("object") else array
        if "__objects__" in tree:
            flat = np.empty(int(np.prod(tree["shape"])), dtype=object)
            flat[:] = np.asarray(tree["__objects__"], dtype=object).reshape(-1)
            return flat.reshape(tree["shape"])
        if "__frame__" in tree:
            return pd.read_parquet(self._file(tree["__frame__"]))
        if "__series__" in tree:
            series = pd.read_parquet(self._file(tree["__series__"]))["values"]
            return series.rename(self.decode(tree["name"]))
        if "__timestamp__" in tree:
            return pd.Timestamp(tree["__timestamp__"])
        if "__datetime64__" in tree:
            return np.datetime64(tree["__datetime64__"])
        if "__path__" in tree:
            return Path(tree["__path__"])
        if "__booster__" in tree:
            import lightgbm as lgb

            return lgb.Booster(model_str=self._file(tree["__booster__"]).read_text())
        if "__object__" in tree:
            return self._object(tree)
        if "__ref__" in tree:
            if tree["__ref__"] not in self.read:
                raise SavedStateError(f"the saved state refers to {tree['__ref__']!r} before it.")
            return self.read[tree["__ref__"]]
        raise SavedStateError(f"unknown entry in the saved state: {sorted(tree)[:3]}")

    def _file(self, name: str) -> Path:
        path = (self.folder / name).resolve()
        if self.folder.resolve() not in path.parents:
            raise SavedStateError(f"the saved state names a file outside its folder: {name!r}.")
        return path

    def _object(self, tree: dict) -> Any:
        name = tree["__object__"]
        if name not in self.allowed:
            raise SavedStateError(
                f"the saved state holds a {name!r}, which this trendcast does not load; "
                f"it loads {sorted(self.allowed)}."
            )
        cls = getattr(import_module(self.allowed[name]), name)
        obj = cls.__new__(cls)
        self.read[tree["folder"]] = obj
        state = {k: self.decode(v) for k, v in tree["state"].items()}
        if hasattr(obj, "_restore_state"):
            obj._restore_state(state, self._file(tree["folder"]))
        else:
            obj.__dict__.update(state)
        return obj


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum(body: dict) -> str:
    text = json.dumps(body, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _version() -> str:
    from trendcast import __version__

    return __version__
