"""Micro-batching: texts of concurrent requests gathered for a few milliseconds into one forward pass.

One worker thread runs every forward pass (torch's intra-op threads do the parallel work), so requests never
compete for the cores; with batching off each request is its own pass on the same thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# texts -> per-text arrays whose first axis is the text: probabilities (N, K), or a tuple such as (probs, counts)
Result = np.ndarray | tuple[np.ndarray, ...]
Predict = Callable[[list[str]], Result]


class MicroBatcher:
    """Gather submitted texts for up to `window_s` (or until `max_texts`) and predict them in one call.

    `window_s` 0 turns batching off: each submission is predicted alone. Results are split back in order, so a
    request gets exactly the rows of its own texts.
    """

    def __init__(self, predict: Predict, window_s: float, max_texts: int) -> None:
        self.predict, self.window_s, self.max_texts = predict, window_s, max_texts
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textcnn-forward")
        self._queue: asyncio.Queue[tuple[list[str], asyncio.Future[Result]]] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def run_in_worker(self, function: Callable[..., object], *args: object) -> object:
        """Run `function(*args)` on the forward-pass thread (e.g. an explanation)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def submit(self, texts: list[str]) -> Result:
        """`predict(texts)` (e.g. probabilities (len(texts), K)), computed alone or with other requests' texts."""
        if self.window_s <= 0:
            return await self.run_in_worker(self.predict, texts)
        if self._worker is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._gather_forever())
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _gather_forever(self) -> None:
        while True:
            pending = [await self._queue.get()]
            deadline = time.monotonic() + self.window_s
            while sum(len(t) for t, _ in pending) < self.max_texts:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    pending.append(await asyncio.wait_for(self._queue.get(), left))
                except asyncio.TimeoutError:  # noqa: UP041 - Python 3.10 raises the asyncio one
                    break
            await self._predict_together(pending)

    async def _predict_together(self, pending: list[tuple[list[str], asyncio.Future[Result]]]) -> None:
        texts = [text for batch, _ in pending for text in batch]
        try:
            probs = await self.run_in_worker(self.predict, texts)
        except Exception as err:  # noqa: BLE001 - handed to every waiting request, which reports it
            for _, future in pending:
                if not future.done():
                    future.set_exception(err)
            return
        start = 0
        for batch, future in pending:
            if not future.done():
                future.set_result(_rows(probs, start, start + len(batch)))
            start += len(batch)

    async def close(self) -> None:
        """Stop gathering and let the forward-pass thread finish."""
        if self._worker is not None:
            self._worker.cancel()
        self.executor.shutdown(wait=True)


def _rows(result: Result, start: int, stop: int) -> Result:
    """Rows start:stop of every array of `result`."""
    if isinstance(result, tuple):
        return tuple(part[start:stop] for part in result)
    return result[start:stop]
