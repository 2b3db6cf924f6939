"""`textcnn serve`: load the model once, then run the app under uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

from ..base.errors import ConfigError
from ..estimators.predictor import TextPredictor
from ..storage.rundir import SECTIONS, read_description
from .config import ServeConfig

log = logging.getLogger(__name__)

SERVE_EXTRA = 'pip install -e ".[serve]"'


def build_app(config: ServeConfig) -> Any:
    """The FastAPI app of `config.model` (a clear error when FastAPI is not installed or the model is bad)."""
    _require_extra()
    from .app import create_app

    _check(config)
    predictor = TextPredictor.load(config.model, device=config.device, max_tokens=config.max_tokens)
    description = read_description(Path(config.model))
    model_config = {name: description[name] for name in SECTIONS}
    return create_app(predictor, config, model_config)


def serve(config: ServeConfig) -> None:
    """Serve `config.model` on `config.host:config.port` until stopped (SIGTERM finishes open requests first)."""
    app = build_app(config)
    import uvicorn

    log.info("serving %s on http://%s:%d (docs at /docs)", config.model, config.host, config.port)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler in force before it started:
    # this one makes that a normal exit (status 0), not a death by signal
    signal.signal(signal.SIGTERM, _exit_normally)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", timeout_graceful_shutdown=10)


def _exit_normally(signum: int, frame: object) -> None:
    sys.exit(0)


def _require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"textcnn serve needs FastAPI and uvicorn ({err.name} is missing): {SERVE_EXTRA}") from err


def _check(config: ServeConfig) -> None:
    for name in ("max_texts", "max_body_bytes", "max_batch_texts", "max_tokens"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be at least 1; got {getattr(config, name)}")
    if config.batch_window_ms < 0:
        raise ConfigError(f"batch_window_ms must be ≥ 0 (0 = no micro-batching); got {config.batch_window_ms}")
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"port must be in 0..65535; got {config.port}")
