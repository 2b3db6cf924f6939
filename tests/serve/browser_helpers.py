"""Helpers for driving the real `textcnn serve` from headless Chromium: a server subprocess, a browser, one
classification through the demo page. Shared by tests/serve/test_browser.py and benchmarks/serve_screenshot.py.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALL_BROWSER = "apt-get install -y chromium chromium-driver"
STARTUP_TIMEOUT_S = 60.0  # loading torch + the model on 2 busy CPU cores takes ~5-10 s
STOP_TIMEOUT_S = 20.0  # uvicorn's graceful shutdown is 10 s (textcnn.serve.run)


def browser_missing() -> str | None:
    """Why headless Chromium cannot run here (with the command that fixes it), or None when it can."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        return f"{' and '.join(missing)} not found on PATH; install them with: {INSTALL_BROWSER}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'the selenium package is missing: pip install -e ".[dev]"'
    return None


def free_port() -> int:
    """A localhost TCP port that nothing listens on (the OS picks it for a socket bound to port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        """POST a JSON body; the status and the decoded JSON answer (errors included)."""
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(), method="POST",
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def stop(self) -> int:
        """SIGTERM, then wait for the exit code (SIGKILL after STOP_TIMEOUT_S; a no-op once stopped)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def running_server(model: str | Path, log_dir: str | Path) -> Iterator[Server]:
    """`python cli.py serve --model MODEL` on a free port, up once GET /health answers; stopped with SIGTERM.

    Its output goes to LOG_DIR/serve.log.
    """
    port = free_port()
    log = Path(log_dir) / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "cli.py", "serve", "--model", str(model), "--port", str(port), "--device", "cpu"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_healthy(server)
        yield server
    finally:
        server.stop()


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"textcnn serve exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as response:
                if json.load(response) == {"status": "ok"}:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"GET /health did not answer within {STARTUP_TIMEOUT_S} s:\n{server.log.read_text()}")


@contextmanager
def chromium(width: int = 900, height: int = 700) -> Iterator:
    """A headless Chromium (selenium WebDriver) whose page viewport is `width`×`height` CSS pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--hide-scrollbars", "--lang=en-US"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    try:  # the viewport itself is width×height (--window-size counts the window's frame too)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()


def classify(driver, url: str, text: str, timeout: float = 20.0) -> str:
    """Open the demo page, type `text`, click Classify; wait for the result or an error. Returns "result"/"error"."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    box = driver.find_element(By.ID, "text")
    box.clear()
    if text:
        box.send_keys(text)
    driver.find_element(By.ID, "submit").click()

    def settled(d) -> str | bool:
        if d.find_element(By.ID, "error").text.strip():
            return "error"
        return "result" if d.find_element(By.ID, "result").is_displayed() else False

    return WebDriverWait(driver, timeout).until(settled)
