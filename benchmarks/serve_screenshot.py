"""docs/serve.png: the demo page of `textcnn serve` after classifying one sentence, shot by headless Chromium.

    python cli.py -q train --variant rand --epochs 25 --out runs/demo-rand --device cpu   # the demo set, ~20 s
    python -m benchmarks.serve_screenshot --model runs/demo-rand --out docs/serve.png

Starts the real server (`python cli.py serve`) on a free port, types TEXT into the page, waits for the result,
and saves a WIDTH×HEIGHT PNG. Needs chromium and chromedriver (apt-get install -y chromium chromium-driver)
and selenium. The helpers are the browser tests' own (tests/serve/browser_helpers.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from benchmarks.common.cli import run_benchmark
from tests.serve.browser_helpers import browser_missing, chromium, classify, running_server

SENTENCE = "a warm , funny and beautifully acted film that i loved"


@click.command()
@click.option("--model", required=True, type=click.Path(exists=True, file_okay=False), help="A run directory.")
@click.option("--out", default="docs/serve.png", show_default=True, type=click.Path(dir_okay=False))
@click.option("--text", default=SENTENCE, show_default=True, help="The sentence typed into the page.")
@click.option("--width", default=900, show_default=True, type=click.IntRange(min=200))
@click.option("--height", default=700, show_default=True, type=click.IntRange(min=200))
def main(model: str, out: str, text: str, width: int, height: int) -> None:
    """Screenshot the demo page after classifying TEXT with MODEL."""
    missing = browser_missing()
    if missing:
        raise click.ClickException(missing)
    with tempfile.TemporaryDirectory() as tmp, running_server(model, tmp) as server, chromium(width, height) as driver:
        if classify(driver, server.url, text) != "result":
            error = driver.find_element("id", "error").text
            raise click.ClickException(f"the page showed an error instead of a result: {error}")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(out)
    click.echo(f"wrote {out} ({Path(out).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    run_benchmark(main)
