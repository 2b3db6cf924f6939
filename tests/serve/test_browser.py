"""The demo page in a real browser: headless Chromium (selenium) against `textcnn serve` in a subprocess.

Run alone with: pytest tests/serve/test_browser.py
Needs chromium and chromedriver on PATH (apt-get install -y chromium chromium-driver); skipped without them.
"""

from __future__ import annotations

import pytest

from tests.conftest import NEGATIVE, POSITIVE
from tests.serve.browser_helpers import browser_missing, chromium, classify, running_server

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))

ENGLISH = "a brilliant , funny and moving film"
CHINESE = "这部电影非常好看"  # the unicode tokenizer gives one token per Han character


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> str:
    """A small rand-variant model on tests/conftest.py's 20 sentences (unicode tokenizer; ~2 s on CPU)."""
    from textcnn import TextCNNClassifier

    path = tmp_path_factory.mktemp("browser") / "run"
    model = TextCNNClassifier(variant="rand", embedding_dim=16, n_filters=8, epochs=5, device="cpu", seed=0)
    model.fit(POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def server(run_dir, tmp_path_factory):
    with running_server(run_dir, tmp_path_factory.mktemp("serve")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as driver:
        yield driver


def _by_id(driver, name: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, name)


def _css(driver, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def test_english_sentence_shows_label_bars_and_hot_tokens(browser, server, run_dir):
    from textcnn.estimators.predictor import TextPredictor

    assert classify(browser, server.url, ENGLISH) == "result"
    assert _by_id(browser, "error").text == ""
    assert _by_id(browser, "verdict").text == TextPredictor.load(run_dir, device="cpu").predict([ENGLISH])[0]

    status, body = server.post("/predict", {"texts": [ENGLISH]})
    assert status == 200
    expected = body["predictions"][0]["probabilities"]
    bars = {row.find_element("css selector", ".name").text: float(row.find_element("css selector", ".value").text)
            for row in _css(browser, "#bars .bar")}
    assert len(_css(browser, "#bars .bar")) == len(expected) == 2
    assert bars.keys() == expected.keys()
    for name, shown in bars.items():
        assert shown == pytest.approx(expected[name], abs=1e-3)
    chosen = [row.find_element("css selector", ".name").text for row in _css(browser, "#bars .bar.chosen")]
    assert chosen == [body["predictions"][0]["label"]]

    hot = [span.text for span in _css(browser, "#tokens .tok.hot")]
    assert hot and set(hot) <= set(ENGLISH.split())
    assert [span.text for span in _css(browser, "#tokens .tok")] == ENGLISH.split()


def test_chinese_text_renders_one_token_per_character(browser, server):
    assert classify(browser, server.url, CHINESE) == "result"
    assert _by_id(browser, "error").text == ""
    assert [span.text for span in _css(browser, "#tokens .tok")] == list(CHINESE)
    assert _by_id(browser, "tokens").text == CHINESE  # Han tokens are joined without spaces


@pytest.mark.parametrize("text", ["", "   \n\t "], ids=["empty", "whitespace"])
def test_blank_text_shows_the_servers_error(browser, server, text):
    status, body = server.post("/predict", {"texts": [text]})
    assert status == 422
    assert classify(browser, server.url, text) == "error"
    assert _by_id(browser, "error").text == body["error"]
    assert not _by_id(browser, "result").is_displayed()


def test_sigterm_stops_the_server_cleanly(browser, server):
    """Last in the module: stops the shared server (the browser is still connected) and wants exit code 0."""
    assert server.post("/predict", {"texts": [ENGLISH]})[0] == 200
    assert server.stop() == 0, server.log.read_text()
    assert "Traceback" not in server.log.read_text()
