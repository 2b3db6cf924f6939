"""The service's settings (no FastAPI import: the CLI reads them to build its options)."""

from __future__ import annotations

from dataclasses import dataclass

from ..base.config import MAX_TOKENS


@dataclass(frozen=True)
class ServeConfig:
    """How `textcnn serve` runs (each field is the CLI option of the same name)."""

    model: str = "runs/latest"  # a run directory written by `textcnn train`
    host: str = "127.0.0.1"
    port: int = 8000
    device: str = "auto"
    max_tokens: int = MAX_TOKENS  # longer texts are cut (the response says so in `warnings`)
    max_texts: int = 1000  # texts per request
    max_body_bytes: int = 1_000_000  # request body size
    batch_window_ms: float = 2.0  # gather concurrent requests this long into one forward pass; 0 = off
    max_batch_texts: int = 2048  # a gathered batch is predicted once it holds this many texts
