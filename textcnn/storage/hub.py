"""Run directories on the Hugging Face Hub: pull one by repo id (`snapshot_download`), push one (`HfApi`).

The Hub copy is the run directory itself, file for file (config.json, labels.json, vocab.json, model.safetensors,
README.md as the model card, metrics.json and job.json when a job wrote them): textcnn's own layout, so a
downloaded snapshot loads like any local run. huggingface_hub's `ModelHubMixin` is not used because it writes a
config.json of its own, which would collide with ours. huggingface_hub is imported only here, when asked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..base.errors import CheckpointError

HUB_EXTRA = 'pip install -e ".[hub]"'
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
# left out of an upload: the resume state, unit claims and hidden temporary files
IGNORED = ["resume/*", "claimed_by.json", ".*"]


def resolve_run(
    path_or_repo_id: str | os.PathLike, *, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
    token: str | None = None, local_files_only: bool = False,
) -> Path:
    """A local run directory as given, or the Hub snapshot of a repo id (`owner/name`), downloaded or cached."""
    path = Path(path_or_repo_id)
    if path.is_dir():
        return path
    repo_id = str(path_or_repo_id)
    if not _REPO_ID.match(repo_id):
        raise CheckpointError(f"{repo_id} is neither a run directory nor a Hugging Face Hub repo id (owner/name)")
    snapshot_download = _hub().snapshot_download
    try:
        folder = snapshot_download(repo_id=repo_id, revision=revision, cache_dir=cache_dir, token=token,
                                   local_files_only=local_files_only)
    except Exception as err:  # noqa: BLE001 - the hub's errors (offline, not found, gated) become one line
        raise CheckpointError(f"could not get {repo_id} from the Hugging Face Hub: {type(err).__name__}: {err}; "
                              "check the repo id and your connection, or pass a local run directory") from err
    return Path(folder)


def upload_run(
    run_dir: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None,
    commit_message: str = "Upload textcnn model",
) -> str:
    """Create the model repo if needed and upload the run directory's files; returns the commit URL."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise CheckpointError(f"{run_dir} is not a textcnn run directory (no config.json)")
    api = _hub().HfApi(token=token)
    api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(repo_id=repo_id, folder_path=str(run_dir), repo_type="model",
                             commit_message=commit_message, ignore_patterns=IGNORED)
    return str(getattr(info, "commit_url", info))


def _hub():  # noqa: ANN202 - the huggingface_hub module
    try:
        import huggingface_hub
    except ImportError as err:
        raise CheckpointError(f"the Hugging Face Hub needs huggingface_hub: {HUB_EXTRA}") from err
    return huggingface_hub
