"""The HTTP service, started for real in a subprocess on a free localhost port and spoken to over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.cli_helpers import fails
from tests.conftest import NEGATIVE, POSITIVE
from tests.estimators.test_multilabel import TINY, cued_corpus
from textcnn.estimators.predictor import TextPredictor
from textcnn.estimators.text import TextCNNClassifier

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["a wonderful , moving film", "dull , slow and boring", "great", "the worst music of the year", "a b c",
         "这部电影非常好看", "loved it 😀"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python cli.py serve` in a subprocess; its log is read back after it stops."""

    def __init__(self, model: Path, log: Path, *options: str) -> None:
        self.port, self.log = free_port(), log
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "serve", "--model", str(model), "--port", str(self.port),
             "--device", "cpu", *options], stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the server did not start: {log.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    clf = TextCNNClassifier(variant="rand", embedding_dim=12, n_filters=6, epochs=4, device="cpu")
    clf.fit(POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE))
    return clf.save(tmp_path_factory.mktemp("serve") / "run")


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "server.log"
    server = Server(model, log, "--max-texts", "20", "--max-body-bytes", "4000", "--max-tokens", "30",
                    "--batch-window-ms", "5")
    yield server
    server.stop()


def post(server: Server, path: str, body: object) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=30)


def test_health_info_and_openapi_docs(server, model) -> None:
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    info = httpx.get(server.url + "/info").json()
    assert info["labels"] == ["neg", "pos"] and info["tokenizer"]["name"] == "unicode"
    assert info["model"]["model"]["variant"] == "rand" and info["textcnn_version"]
    assert info["limits"]["max_texts"] == 20
    assert "/predict" in httpx.get(server.url + "/openapi.json").json()["paths"]
    assert httpx.get(server.url + "/docs").status_code == 200
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "<textarea" in page.text and "http" not in page.text.split("<script>")[1]


def test_predictions_equal_the_librarys_even_when_requests_are_batched_together(server, model) -> None:
    predictor = TextPredictor.load(model, device="cpu")
    expected_labels, expected = predictor.predict(TEXTS), predictor.predict_proba(TEXTS)

    async def one_request_per_text() -> list[dict]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answers = await asyncio.gather(*(client.post("/predict", json={"texts": [t]}) for t in TEXTS * 4))
        return [a.json()["predictions"][0] for a in answers]

    records = asyncio.run(one_request_per_text())
    for i, record in enumerate(records):
        k = i % len(TEXTS)
        assert record["text"] == TEXTS[k] and record["label"] == expected_labels[k]
        got = [record["probabilities"][c] for c in predictor.class_names]
        np.testing.assert_allclose(got, expected[k], atol=1e-5)
    together = post(server, "/predict", {"texts": TEXTS, "top_k": 1}).json()["predictions"]
    assert [r["label"] for r in together] == list(expected_labels) and all(len(r["probabilities"]) == 1
                                                                           for r in together)


def test_explanations_are_those_of_predict_explain_json(server, model) -> None:
    predictor = TextPredictor.load(model, device="cpu")
    [explained] = post(server, "/explain", {"texts": ["a wonderful , moving film"]}).json()["explanations"]
    expected = predictor.explain("a wonderful , moving film")
    assert explained["label"] == expected["label"] and explained["tokens"] == expected["tokens"]
    assert [s["ngram"] for s in explained["ngrams"]] == [s["ngram"] for s in expected["ngrams"]]


def test_a_text_longer_than_max_tokens_is_cut_with_a_warning(server) -> None:
    body = post(server, "/predict", {"texts": ["great " * 40, "great"]}).json()
    assert body["warnings"] == ["text 0 has 40 tokens; only the first 30 were used"]
    assert "warnings" not in post(server, "/predict", {"texts": ["great"]}).json()
    explained = post(server, "/explain", {"texts": ["great", "great " * 40]}).json()
    assert explained["warnings"] == ["text 1 has 40 tokens; only the first 30 were used"]


BAD = [
    ({"texts": []}, 422, "texts"),
    ({"texts": [""]}, 422, "empty or whitespace"),
    ({"texts": ["  \n"]}, 422, "empty or whitespace"),
    ({}, 422, "'texts' is missing"),
    ({"texts": "a film"}, 422, "texts"),
    ({"texts": [1]}, 422, "texts.0"),
    ({"texts": ["a"], "top_k": 0}, 422, "top_k"),
    ({"texts": ["a"], "top_k": "two"}, 422, "top_k"),
    ({"texts": ["a"], "extra": 1}, 422, "extra"),
    ({"texts": ["a"] * 21}, 413, "21 texts in one request; the limit is 20"),
    ({"texts": ["\ud800"]}, 422, "not valid UTF-8"),
    ([1, 2], 422, "body"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
@pytest.mark.parametrize("path", ["/predict", "/explain"])
def test_bad_requests_get_a_4xx_that_says_what_was_wrong(server, path, body, status, message) -> None:
    content = json.dumps(body).encode()  # json.dumps keeps the lone surrogate as the escape \ud800
    answer = httpx.post(server.url + path, content=content, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


@pytest.mark.parametrize(("content", "status", "message"), [
    (b'{"texts": ["a"', 422, "not valid JSON"),
    (b'{"texts": ["\xff\xfe"]}', 400, "not valid JSON (or not UTF-8)"),
    (json.dumps({"texts": ["word " * 1000]}).encode(), 413, "larger than 4000 bytes"),
])
def test_malformed_or_oversized_bodies_are_refused(server, content, status, message) -> None:
    answer = httpx.post(server.url + "/predict", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == status and message in answer.json()["error"]


def test_unknown_paths_and_methods_answer_with_an_error_field(server) -> None:
    assert httpx.get(server.url + "/nothing").json() == {"error": "Not Found"}
    assert httpx.get(server.url + "/predict").status_code == 405


def test_a_streamed_body_over_the_limit_is_refused_without_reading_it_all(server) -> None:
    def chunks():
        yield b'{"texts": ["'
        for _ in range(100):
            yield b"x" * 100
        yield b'"]}'

    answer = httpx.post(server.url + "/predict", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413


def test_bad_input_never_leaves_a_traceback_and_sigterm_stops_cleanly(model, tmp_path) -> None:
    log = tmp_path / "server.log"
    server = Server(model, log, "--max-body-bytes", "200")
    for body in (b"{", b'{"texts": [""]}', b"x" * 500, b'{"texts": ["fine"]}'):
        httpx.post(server.url + "/predict", content=body, headers={"content-type": "application/json"})
    assert server.stop() == 0
    text = log.read_text()
    assert "Traceback" not in text and " 500 " not in text
    assert "Application shutdown complete" in text and "Finished server process" in text


def test_a_multi_label_model_answers_with_every_label_above_its_threshold(tmp_path) -> None:
    texts, labels = cued_corpus(160, 0)
    clf = TextCNNClassifier(multi_label=True, **TINY).fit(texts, labels, dev=cued_corpus(40, 1))
    run = clf.save(tmp_path / "run")
    server = Server(run, tmp_path / "server.log")
    try:
        [record] = post(server, "/predict", {"texts": ["goal vote today"]}).json()["predictions"]
        assert sorted(record["labels"]) == sorted(clf.predict_labels(["goal vote today"])[0])
        [explained] = post(server, "/explain", {"texts": ["goal vote today"]}).json()["explanations"]
        assert explained["labels"] == record["labels"] and len(explained["explanations"]) == len(record["labels"])
        assert httpx.get(server.url + "/info").json()["thresholds"] == {"art": 0.5, "politics": 0.5, "sports": 0.5}
    finally:
        server.stop()


def test_serving_a_missing_model_or_without_fastapi_is_one_line(tmp_path, monkeypatch) -> None:
    fails(["serve", "--model", str(tmp_path / "nothing")], "not found")
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now raises ImportError
    fails(["serve", "--model", str(tmp_path / "nothing")], r'pip install -e "\.\[serve\]"')


def test_an_ensemble_is_served_as_one_model_with_the_librarys_averaged_answers(tmp_path) -> None:
    clf = TextCNNClassifier(variant="rand", embedding_dim=12, n_filters=6, epochs=2, ensemble=2, device="cpu")
    run = clf.fit(POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)).save(tmp_path / "run")
    predictor = TextPredictor.load(run, device="cpu")
    server = Server(run, tmp_path / "server.log")
    try:
        assert httpx.get(server.url + "/info").json()["model"]["train"]["ensemble"] == 2
        records = post(server, "/predict", {"texts": TEXTS}).json()["predictions"]
        assert [r["label"] for r in records] == list(predictor.predict(TEXTS))
        got = [[r["probabilities"][c] for c in predictor.class_names] for r in records]
        np.testing.assert_allclose(got, predictor.predict_proba(TEXTS), atol=1e-5)
        [explained] = post(server, "/explain", {"texts": [TEXTS[0]]}).json()["explanations"]
        expected = predictor.explain(TEXTS[0])
        assert [s["ngram"] for s in explained["ngrams"]] == [s["ngram"] for s in expected["ngrams"]]
        np.testing.assert_allclose([s["contribution"] for s in explained["ngrams"]],
                                   [s["contribution"] for s in expected["ngrams"]], atol=1e-5)
    finally:
        assert server.stop() == 0
