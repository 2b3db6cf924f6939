"""A store of finished ensemble members, by seed, from which later ensembles on the same data and settings take them.

`--ensemble N` with seed s trains members on seeds s, ..., s+N-1, each exactly as a single model of that seed would
be trained. Ensembles whose seeds overlap (a 3-member ensemble on seed 0 and one on seed 1 share seeds 1 and 2), or
a larger ensemble grown from a smaller one, therefore train some identical members. With a store, every finished
member's final resume state is copied to `<store>/seed<k>/` together with its identity: the settings it was trained
with (all but the seed) and a fingerprint of its train and dev data. A later member of that seed and identity is
copied from there into its own resume folder, where `fit_model` finds its training finished and trains nothing; the
copy is marked (`REUSED`), so that its epochs' seconds are not counted as the new run's compute (see
`textcnn.training.resume.trained_seconds`). A member kept for the seed with another identity is an error, not a
silent retrain.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..base.atomic import read_json, write_json
from ..base.errors import CheckpointError
from .resume import REUSED, STATE, has_train_state

IDENTITY = "member.json"  # in <store>/seed<k>/: what the member was trained on and with


@dataclass(frozen=True)
class MemberStore:
    """A member store and the identity of the members a fit trains: its data's fingerprint, and its settings."""

    folder: Path
    data: str  # `data_fingerprint` of the train and dev data
    settings: dict[str, Any] = field(default_factory=dict)  # all but the seed (textcnn.storage.rundir.member_settings)

    @property
    def identity(self) -> dict[str, Any]:
        return {"settings": self.settings, "data": self.data}


def data_fingerprint(parts: Iterable[Any]) -> str:
    """A SHA-256 over texts, labels and arrays (lists of them nest), in order: equal data, equal fingerprint."""
    digest = hashlib.sha256()
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()


def _feed(digest: Any, part: Any) -> None:
    if isinstance(part, torch.Tensor):
        part = part.detach().cpu().numpy()
    if isinstance(part, np.ndarray):
        digest.update(f"array{part.dtype}{part.shape}".encode())
        digest.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(part, (str, int, float, bool)) or part is None:
        digest.update(f"{type(part).__name__}:{part}\x00".encode())
    else:  # a sequence of any of these
        digest.update(b"[")
        for item in part:
            _feed(digest, item)
        digest.update(b"]")


def kept_member(store: Path, seed: int) -> Path:
    """The folder of the member of `seed` in `store`."""
    return Path(store) / f"seed{seed}"


def keep_member(folder: Path, store: Path, seed: int, identity: dict[str, Any]) -> None:
    """Copy the finished member state in the resume folder `folder` into `store` as the member of `seed`.

    A member already kept for the seed stays as it is. The copy is assembled beside its place and renamed into it,
    so a process cut off while copying leaves no half member behind.
    """
    target = kept_member(store, seed)
    if has_train_state(target):
        return
    epoch_dir = str(read_json(Path(folder) / STATE)["folder"])
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(Path(folder) / epoch_dir, partial / epoch_dir)
    shutil.copy2(Path(folder) / STATE, partial / STATE)
    write_json(partial / IDENTITY, identity)
    if target.exists() and not has_train_state(target):
        shutil.rmtree(target, ignore_errors=True)  # a leftover without a state: nothing was kept there
    try:
        partial.rename(target)
    except OSError:
        if not has_train_state(target):
            raise
        shutil.rmtree(partial, ignore_errors=True)  # another process kept the same member first


def reuse_member(store: Path, seed: int, folder: Path, identity: dict[str, Any]) -> bool:
    """Copy the member of `seed` kept in `store` into the resume folder `folder`; False when none is kept.

    Raises CheckpointError when the kept member was trained with other settings or on other data.
    """
    source = kept_member(store, seed)
    if not has_train_state(source):
        return False
    kept = read_json(source / IDENTITY)
    wanted = json.loads(json.dumps(identity))  # as it reads back from JSON (tuples become lists)
    if kept != wanted:
        raise CheckpointError(f"{source} holds the member of seed {seed} trained with {_difference(kept, wanted)}; "
                              "give each data set and configuration a store of its own (a dev split held out with each "
                              "ensemble's seed gives every ensemble data of its own)")
    epoch_dir = str(read_json(source / STATE)["folder"])
    folder = Path(folder)
    shutil.rmtree(folder / epoch_dir, ignore_errors=True)
    shutil.copytree(source / epoch_dir, folder / epoch_dir)
    write_json(folder / REUSED, {"from": str(source)})
    shutil.copy2(source / STATE, folder / STATE)  # last: the state is what makes the copy count
    return True


def _difference(kept: dict[str, Any], wanted: dict[str, Any]) -> str:
    """The first identity entry that differs, as 'name=kept, not wanted'."""
    for key in sorted(set(kept) | set(wanted)):
        if isinstance(kept.get(key), dict) and isinstance(wanted.get(key), dict):
            inner = _difference(kept[key], wanted[key])
            if inner:
                return f"{key}.{inner}"
        elif kept.get(key) != wanted.get(key):
            return f"{key}={kept.get(key)!r}, not {wanted.get(key)!r}"
    return ""
