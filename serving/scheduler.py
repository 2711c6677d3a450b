"""How the server runs generations: at most `max_concurrent` at once, each in a worker thread so the event loop stays
free, a bounded queue behind them and then 503 with Retry-After; a client that leaves stops its generation and frees
its slot."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from canto_nemo.serving import wire
from canto_nemo.serving.api import APIError
from canto_nemo.serving.generation import Counters, Engine, Step
from canto_nemo.serving.wire import Choice

RETRY_AFTER_S = 1


class Admission:
    """At most `concurrent` generations at once and `queue` more waiting for a slot; past that, 503 at once."""

    def __init__(self, concurrent: int, queue: int) -> None:
        if concurrent < 1 or queue < 0:
            raise ValueError("max_concurrent must be at least 1 and queue_size at least 0")
        self.concurrent, self.queue = concurrent, queue
        self.semaphore = asyncio.Semaphore(concurrent)
        self.running = self.waiting = 0

    async def enter(self, request: Request) -> bool:
        """Takes a slot; False when the client left while it waited."""
        if self.running + self.waiting >= self.concurrent + self.queue:
            raise APIError(503, f"The server is busy ({self.running} generating, {self.waiting} waiting): retry "
                                f"in {RETRY_AFTER_S} s.", "server_error", code="overloaded",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        self.waiting += 1
        acquire = asyncio.ensure_future(self.semaphore.acquire())
        try:
            if not await before_disconnect(request, acquire):
                acquire.cancel()
                return False
        finally:
            self.waiting -= 1
        self.running += 1
        return True

    def leave(self) -> None:
        self.running -= 1
        self.semaphore.release()


async def _disconnected(request: Request) -> None:
    # The body was read already: what the connection says next is that it closed.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def before_disconnect(request: Request, future: asyncio.Future) -> bool:
    """Waits for `future` or for the client to leave; whether `future` finished. The future is left as it is."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({future, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    return future.done()


class Scheduler:
    """Runs the choices of a request on one Engine once admitted, answering as a whole or as a stream."""

    def __init__(self, engine: Engine, max_concurrent: int, queue_size: int) -> None:
        self.engine = engine
        self.admission = Admission(max_concurrent, queue_size)
        self.executor = ThreadPoolExecutor(max_concurrent, thread_name_prefix="generate")
        self.counters = Counters()
        self.requests = 0
        self.in_flight: set[threading.Event] = set()

    def close(self) -> None:
        for cancel in list(self.in_flight):
            cancel.set()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def answer(self, request: Request, choices: list[Choice], head: dict, kind: str, prompt_tokens: int,
                     stream: bool, usage: bool) -> Response:
        """kind: cmpl or chatcmpl; usage: a streamed answer ends with its token counts."""
        if not await self.admission.enter(request):
            return Response(status_code=204)  # nobody is listening any more
        self.requests += 1
        cancel = threading.Event()
        self.in_flight.add(cancel)
        if stream:
            queue: asyncio.Queue = asyncio.Queue()
            loop = asyncio.get_running_loop()

            def work() -> None:
                try:
                    self._work(choices, cancel, lambda c, s: loop.call_soon_threadsafe(queue.put_nowait, (c, s)))
                except Exception as err:
                    loop.call_soon_threadsafe(queue.put_nowait, err)
                finally:
                    loop.call_soon_threadsafe(queue.put_nowait, wire.END)

            self._launch(work)
            return wire.EventStream(wire.events(queue, choices, head, kind, prompt_tokens, usage, self.engine.pieces),
                                    partial(self._stop, cancel))
        try:
            done = self._launch(lambda: self._work(choices, cancel, lambda c, s: None))
            if not await before_disconnect(request, done):
                return Response(status_code=204)
            done.result()
        finally:
            self._stop(cancel)
        return JSONResponse(wire.body(head, kind, choices, prompt_tokens, self.engine.pieces))

    def _work(self, choices: list[Choice], cancel: threading.Event, emit: Callable[[Choice, Step], None]) -> None:
        """In a worker thread: the choices one after another, each step to `emit`."""
        for choice in choices:
            for step in self.engine.generate(choice.ids, choice.sampling, cancel, choice.echo, self.counters):
                choice.steps.append(step)
                choice.text.append(step.text)
                choice.finish_reason = step.finish_reason or choice.finish_reason
                emit(choice, step)
            if cancel.is_set():
                return
            choice.finish_reason = choice.finish_reason or "length"  # no room for a token

    def _launch(self, work: Callable[[], None]) -> asyncio.Future:
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                work()
            finally:
                loop.call_soon_threadsafe(self.admission.leave)

        return loop.run_in_executor(self.executor, run)

    def _stop(self, cancel: threading.Event) -> None:
        """The request is over (answered, or its client gone): its generation stops, if it still runs."""
        cancel.set()
        self.in_flight.discard(cancel)
