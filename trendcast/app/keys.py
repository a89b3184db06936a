"""API keys of a workspace's server: created once and shown once, kept only as their hashes.

A key is ``tc_`` and 32 random URL-safe bytes; the workspace stores its SHA-256, its name, its
scope (``"write"`` may read and write, ``"read"`` only reads) and when it was made. Checking a
key hashes it and compares in constant time, so neither the table nor timing gives it away.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import pandas as pd

from trendcast.data.store import as_workspace

KEYS_TABLE = "api_keys"
SCOPES = ("read", "write")
_PREFIX = "tc_"


def create_key(workspace: Any, name: str, *, scope: str = "write") -> str:
    """A new key named ``name``; the only time it is seen in clear is this return value."""
    if scope not in SCOPES:
        raise ValueError(f"the scope is one of {SCOPES}, got {scope!r}.")
    if not name or not name.strip():
        raise ValueError("give the key a name, e.g. the program that will use it.")
    ws = as_workspace(workspace)
    keys = list_keys(ws, hashes=True)
    if name in set(keys["name"]):
        raise ValueError(f"a key named {name!r} exists: revoke it first, or pick another name.")
    token = _PREFIX + secrets.token_urlsafe(32)
    row = pd.DataFrame(
        {
            "name": [name],
            "scope": [scope],
            "sha256": [_hash(token)],
            "created": [pd.Timestamp.now(tz="UTC").tz_localize(None)],
        }
    )
    ws.write(KEYS_TABLE, pd.concat([keys, row], ignore_index=True), kind="keys")
    return token


def list_keys(workspace: Any, *, hashes: bool = False) -> pd.DataFrame:
    """The keys: name, scope, created (and their hashes, for the server only)."""
    ws = as_workspace(workspace)
    columns = ["name", "scope", "sha256", "created"]
    if not ws.path.exists() or KEYS_TABLE not in set(ws.catalog()["name"]):
        keys = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "created" else str)
                             for c in columns})  # fmt: skip
    else:
        keys = ws.read(KEYS_TABLE)[columns]
    return keys if hashes else keys.drop(columns="sha256")


def revoke_key(workspace: Any, name: str) -> None:
    ws = as_workspace(workspace)
    keys = list_keys(ws, hashes=True)
    if name not in set(keys["name"]):
        raise ValueError(f"no key named {name!r}; the keys are {sorted(keys['name'])}.")
    ws.write(KEYS_TABLE, keys[keys["name"] != name], kind="keys")


def key_scope(keys: pd.DataFrame, token: str | None) -> str | None:
    """The scope of ``token`` among ``keys`` (`list_keys` with hashes), None if it is none."""
    if not token:
        return None
    digest = _hash(token)
    found = None
    for stored, scope in zip(keys["sha256"], keys["scope"], strict=True):
        # Every stored hash is compared, so the time taken says nothing about which matched.
        if hmac.compare_digest(stored, digest):
            found = scope
    return found


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
