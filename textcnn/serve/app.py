"""The FastAPI app: POST /predict, POST /explain, GET /health, GET /info, the demo page at /, OpenAPI at /docs.

Bad input never reaches a 500 or a traceback: pydantic checks the body's shape, the handlers check the texts
(`check_texts`, the predictor's own rule), and a middleware refuses bodies over `max_body_bytes` while they stream
in. Every error answers `{"error": "<what was wrong>"}` (422 for a malformed request, 413 for one too large).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..base.errors import TextCNNError
from ..base.version import __version__
from ..estimators.predictor import TextPredictor, check_texts
from .batching import MicroBatcher
from .config import ServeConfig

NOT_JSON = 'the body is not valid JSON (or not UTF-8); send a JSON object such as {"texts": ["..."]}'


class PredictRequest(BaseModel):
    """POST /predict: texts, and how many of the most probable classes to list."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] = Field(min_length=1, description="Texts to classify (non-empty strings).")
    top_k: int | None = Field(None, ge=1, description="List this many of the most probable classes (default all).")


class ExplainRequest(BaseModel):
    """POST /explain: texts whose predictions are explained by their n-grams."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] = Field(min_length=1, description="Texts to explain (non-empty strings).")


class RequestError(TextCNNError):
    """A request the service refuses, with its HTTP status."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def create_app(predictor: TextPredictor, config: ServeConfig, model_config: dict[str, Any] | None = None) -> FastAPI:
    """The service around `predictor` (loaded once, by the caller)."""
    batcher = MicroBatcher(_quiet(predictor.predict_proba_and_token_counts), config.batch_window_ms / 1000,
                           config.max_batch_texts)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        yield
        await batcher.close()

    app = FastAPI(title="textcnn", version=__version__, lifespan=lifespan,
                  description="Kim (2014) CNN sentence classifier. POST /predict, POST /explain; demo page at /.")
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    _add_error_handlers(app)

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        """One record per text: label and probabilities (multi-label: every label above its threshold)."""
        texts = _checked(request.texts, config.max_texts)
        probs, counts = await batcher.submit(texts)
        records = predictor.records(texts, probs, request.top_k)
        return {"predictions": records, **_warnings(predictor, counts)}

    @app.post("/explain")
    async def explain(request: ExplainRequest) -> dict[str, Any]:
        """One explanation per text: the n-grams behind its prediction, as `predict --explain --json` gives."""
        texts = _checked(request.texts, config.max_texts)
        explain_one = predictor.explain_labels if predictor.multi_label else predictor.explain
        explanations, counts = await batcher.run_in_worker(
            _quiet(lambda: ([explain_one(t) for t in texts], predictor.token_counts(texts))))
        return {"explanations": explanations, **_warnings(predictor, counts)}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        """Labels, model config, tokenizer, limits and textcnn version."""
        return _info(predictor, config, model_config or {})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files(__package__).joinpath("static/index.html").read_text(encoding="utf-8")

    return app


def _checked(texts: list[str], max_texts: int) -> list[str]:
    if len(texts) > max_texts:
        raise RequestError(f"{len(texts)} texts in one request; the limit is {max_texts} (split the request, or "
                           "start the service with a larger --max-texts)", status=413)
    return check_texts(texts)


def _warnings(predictor: TextPredictor, token_counts: Sequence[int]) -> dict[str, list[str]]:
    """A `warnings` list for texts cut to max_tokens or with no tokens (absent when there is none).

    The counts come from the worker thread's tokenisation: the event loop never tokenises.
    """
    notes = []
    for i, n in enumerate(int(c) for c in token_counts):
        if predictor.max_tokens is not None and n > predictor.max_tokens:
            notes.append(f"text {i} has {n} tokens; only the first {predictor.max_tokens} were used")
        elif n == 0:
            notes.append(f"text {i} has no tokens under the {predictor.tokenizer.name!r} tokenizer; predicted "
                         "from zero features")
    return {"warnings": notes} if notes else {}


def _quiet(function: Any) -> Any:
    """`function` without Python warnings: they become the response's `warnings` field, not server-log noise.

    Only the single forward-pass thread calls these, so changing the warning filters there is safe.
    """
    def call(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args)

    return call


def _info(predictor: TextPredictor, config: ServeConfig, model_config: dict[str, Any]) -> dict[str, Any]:
    tokenizer = predictor.tokenizer
    info = {
        "textcnn_version": __version__, "labels": predictor.class_names, "multi_label": predictor.multi_label,
        "tokenizer": {"name": tokenizer.name, "lowercase": tokenizer.lowercase, "version": tokenizer.version},
        "model": model_config, "limits": {k: v for k, v in asdict(config).items() if k.startswith("max_")},
        "batch_window_ms": config.batch_window_ms,
    }
    if predictor.multi_label:
        info["thresholds"] = dict(zip(predictor.class_names, np.asarray(predictor.label_thresholds).tolist()))
    return info


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _describe(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, RequestError):  # FastAPI wraps what reading the body raised (BodyLimit's 413)
            return JSONResponse({"error": str(exc.__cause__)}, status_code=exc.__cause__.status)
        message = NOT_JSON if exc.status_code == 400 else str(exc.detail)  # 400: a body FastAPI could not decode
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(TextCNNError)
    async def refused(request: Request, exc: TextCNNError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=getattr(exc, "status", 422))


def _describe(errors: Any) -> str:
    """pydantic's first error as one sentence: where and what."""
    first = list(errors)[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    if first.get("type") == "json_invalid":
        return NOT_JSON
    if first.get("type") == "missing":
        return f"field {where!r} is missing; send a JSON object such as {{\"texts\": [\"...\"]}}"
    return f"{where}: {first.get('msg', 'invalid value')}"


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` (declared or streamed) is answered 413, unread."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise RequestError(self._message(), status=413)
            return message

        try:
            await self.app(scope, counted, send)
        except RequestError:
            await self._too_large(scope, receive, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes; send fewer or shorter texts"

    async def _too_large(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await JSONResponse({"error": self._message()}, status_code=413)(scope, receive, send)
