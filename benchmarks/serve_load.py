"""Load on `textcnn serve`: requests/s, p50/p99 latency, errors and peak server RSS, micro-batching on and off.

For each mode (micro-batching on with --window-ms, then off with window 0) one server subprocess is started
(`python cli.py serve --model M --port <free> --batch-window-ms W`), warmed up with a few requests, and then loaded by
1, 8 and 32 concurrent clients (--clients), each level for --seconds. A client is an asyncio task with its own
httpx.AsyncClient that POSTs /predict with one short sentence (rotating through data/demo/test.tsv) until the time is
up; every latency is timed with time.perf_counter. An error is a non-200 answer or an exception (it must stay 0). The
peak server RSS is VmHWM from /proc/<server pid>/status, read just before the server is stopped with SIGTERM. The
load generator runs on the same machine as the server and shares its cores. The table goes to
benchmarks/results/serve_load.md.

    python cli.py train                     # writes runs/latest
    python -m benchmarks.serve_load --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, ROOT
from textcnn.serve.config import ServeConfig  # no FastAPI import

log = logging.getLogger(__name__)

SENTENCES = ROOT / "data" / "demo" / "test.tsv"  # `label<TAB>text` lines
DEFAULT_WINDOW_MS = ServeConfig.batch_window_ms  # the service's own default window
WARMUP_REQUESTS = 5  # per server, before the first level: first-call costs (allocator, lazy imports) stay out
STARTUP_TIMEOUT_S = 120.0  # importing torch + loading the model on a busy 2-core machine
REQUEST_TIMEOUT_S = 30.0  # a request slower than this counts as an error
STOP_TIMEOUT_S = 30.0  # SIGTERM lets open requests finish (uvicorn's graceful shutdown is 10 s)
COLUMNS = ("micro-batching", "clients", "requests/s", "p50 ms", "p99 ms", "errors", "peak server RSS MB")


@dataclass(frozen=True)
class Level:
    """What one concurrency level measured."""

    clients: int
    latencies_s: list[float]  # one per successful request
    errors: int  # non-200 answers and exceptions
    elapsed_s: float  # from the first request to the last client's end


def summarize(level: Level) -> dict[str, float]:
    """requests/s (successful), p50 and p99 latency in ms, errors."""
    ms = 1000 * np.asarray(level.latencies_s, dtype=float)
    p50, p99 = np.percentile(ms, [50, 99]) if ms.size else (float("nan"), float("nan"))
    return {"requests_s": ms.size / level.elapsed_s, "p50_ms": float(p50), "p99_ms": float(p99),
            "errors": level.errors}


def format_row(mode: str, level: Level, peak_rss_mb: float) -> str:
    stats = summarize(level)
    cells = (mode, str(level.clients), f"{stats['requests_s']:.1f}", f"{stats['p50_ms']:.1f}",
             f"{stats['p99_ms']:.1f}", str(stats["errors"]), f"{peak_rss_mb:.0f}")
    return "| " + " | ".join(cells) + " |"


def table(rows: list[str], command: str, machine: str, seconds: float) -> str:
    return "\n".join([
        "# serve_load: `textcnn serve` under concurrent clients, micro-batching on and off",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}.  ",
        f"Each level runs {seconds:g} s after {WARMUP_REQUESTS} warm-up requests; each client loops POST /predict with "
        "one short sentence from data/demo/test.tsv. The client load generator (asyncio + httpx) runs on the same "
        "machine as the server and shares its CPU cores, so these are lower bounds for a server with the machine to "
        "itself. Errors count non-200 answers and exceptions. Peak server RSS is VmHWM of the server process over its "
        "whole life (one server per mode, all levels).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *rows,
    ])


def load_sentences(path: Path = SENTENCES) -> list[str]:
    """The text column of a `label<TAB>text` file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[1] for line in lines if "\t" in line]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set size) of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # the kernel writes kB
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


class Server:
    """`python cli.py serve` in a subprocess on a free port, its log in a temporary file."""

    def __init__(self, model: str, window_ms: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        command = [sys.executable, str(ROOT / "cli.py"), "serve", "--model", model, "--port", str(self.port),
                   "--batch-window-ms", str(window_ms)]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def log_tail(self, lines: int = 20) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])

    async def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if (await client.get(self.url + "/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the server did not answer /health within {timeout_s:g} s:\n{self.log_tail()}")

    def stop(self) -> float:
        """SIGTERM and wait; returns the peak RSS in MB (read while the process still lives)."""
        peak = peak_rss_mb(self.process.pid) if self.process.poll() is None else float("nan")
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        return peak


async def client_loop(url: str, sentences: list[str], start: int, deadline: float) -> tuple[list[float], int]:
    """One simulated client: POST /predict, one sentence per request, until `deadline` (perf_counter time).

    Returns the latencies of the successful requests and the number of errors.
    """
    import httpx

    latencies, errors = [], 0
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as client:
        i = start
        while time.perf_counter() < deadline:
            body = {"texts": [sentences[i % len(sentences)]]}
            i += 1
            sent = time.perf_counter()
            try:
                response = await client.post(url + "/predict", json=body)
            except httpx.HTTPError:
                errors += 1
                continue
            if response.status_code == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors += 1
    return latencies, errors


async def run_level(url: str, sentences: list[str], clients: int, seconds: float) -> Level:
    """`clients` concurrent client loops for `seconds`; client k starts at sentence k."""
    start = time.perf_counter()
    results = await asyncio.gather(*(client_loop(url, sentences, k, start + seconds) for k in range(clients)))
    elapsed = time.perf_counter() - start
    return Level(clients, [t for latencies, _ in results for t in latencies], sum(e for _, e in results), elapsed)


async def warm_up(server: Server, sentences: list[str]) -> None:
    """A few sequential requests before the first level, which must all succeed."""
    import httpx

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as client:
        for text in sentences[:WARMUP_REQUESTS]:
            response = await client.post(server.url + "/predict", json={"texts": [text]})
            if response.status_code != 200:
                raise RuntimeError(f"/predict answered {response.status_code} to a warm-up request: {response.text}")


async def run_mode(model: str, window_ms: float, levels: list[int], seconds: float,
                   sentences: list[str]) -> tuple[list[Level], float]:
    """One server with this window, warmed up, then each level; returns the levels and its peak RSS in MB."""
    server = Server(model, window_ms)
    try:
        await server.wait_ready()
        await warm_up(server, sentences)
        done = []
        for clients in levels:
            done.append(await run_level(server.url, sentences, clients, seconds))
            log.info("window %g ms, %d clients: %s", window_ms, clients, summarize(done[-1]))
    finally:
        peak = server.stop()
    return done, peak


def mode_name(window_ms: float) -> str:
    return f"on ({window_ms:g} ms window)" if window_ms > 0 else "off"


def command_line(args: argparse.Namespace) -> str:
    clients = ",".join(map(str, args.clients))
    return (f"python -m benchmarks.serve_load --model {args.model} --seconds {args.seconds:g} --clients {clients} "
            f"--window-ms {args.window_ms:g}")


def parse_clients(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",")]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers such as 1,8,32; got {text!r}")
    return levels


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("benchmarks.serve_load", __doc__)
    parser.add_argument("--model", default="runs/latest", help="a run directory written by `python cli.py train`")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each concurrency level runs")
    parser.add_argument("--clients", type=parse_clients, default="1,8,32",
                        help="comma-separated numbers of concurrent clients")
    parser.add_argument("--window-ms", type=float, default=DEFAULT_WINDOW_MS,
                        help="the micro-batching window of the 'on' mode ('off' is always window 0)")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load.md")
    args = parser.parse_args(argv)
    if not (Path(args.model) / "config.json").is_file():
        raise SystemExit(f"no trained model at {args.model}; train one first: python cli.py train")
    if args.seconds <= 0 or args.window_ms <= 0:
        raise SystemExit("--seconds and --window-ms must be positive (the 'off' mode always uses window 0)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would load the shared cores
    sentences, model = load_sentences(), str(Path(args.model).resolve())  # the server runs in the repository root
    rows = []
    for window_ms in (args.window_ms, 0.0):
        done, peak = asyncio.run(run_mode(model, window_ms, args.clients, args.seconds, sentences))
        rows += [format_row(mode_name(window_ms), level, peak) for level in done]
    text = table(rows, command_line(args), describe_machine(), args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
