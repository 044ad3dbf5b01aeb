"""A small load generator, standard library only: N client threads, each with its own keep-alive
``http.client`` connection, send requests for a fixed duration and record each one's latency and status.

Threads rather than a third-party tool so the harness runs anywhere the project does; with 2 cores and a
GIL the generator itself costs CPU, which is the same for the app and its baseline in a run (the ratio is
what compares them).  A request that could not be sent or read counts as status 0 ("error").
"""
from __future__ import annotations

import http.client
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LoadResult:
    """What a run measured: latencies in seconds, status counts, the wall time it took."""

    clients: int
    seconds: float
    latencies: list[float]
    statuses: Counter

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, pct: float) -> float:
        """A latency percentile in milliseconds."""
        return percentile(self.latencies, pct) * 1000

    def count(self, kind: str) -> int:
        """Requests by class: "2xx", "4xx" (all of them, 429 included), "429", "503", "5xx" (all of them), "error"."""
        if kind == "error":
            return self.statuses.get(0, 0)
        if kind.endswith("xx"):
            first = int(kind[0])
            return sum(n for s, n in self.statuses.items() if s // 100 == first)
        return self.statuses.get(int(kind), 0)

    def summary(self) -> dict:
        return {"clients": self.clients, "seconds": round(self.seconds, 2), "requests": self.requests,
                "rps": round(self.rps, 1), "p50_ms": round(self.p(50), 1), "p95_ms": round(self.p(95), 1),
                "p99_ms": round(self.p(99), 1), **{k: self.count(k) for k in ("2xx", "4xx", "429", "503", "5xx", "error")}}


def run_load(host: str, port: int, make_request: Callable[[int, int], Request], clients: int, seconds: float,
             timeout: float = 30.0, warmup: int = 4) -> LoadResult:
    """``clients`` threads call ``make_request(client_number, request_number)`` and send it, again and again,
    until ``seconds`` have passed; the run's result gathers every request they completed.  ``warmup`` requests
    are sent first, one at a time, and not recorded."""
    for n in range(warmup):  # not recorded: each worker's first requests (templates, caches, connections)
        try:
            fetch(host, port, make_request(0, -1 - n), timeout)
        except (OSError, http.client.HTTPException):
            pass
    stop_at = time.perf_counter() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter = Counter()

    def client(number: int) -> None:
        mine: list[float] = []
        codes: Counter = Counter()
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        n = 0
        while time.perf_counter() < stop_at:
            req = make_request(number, n)
            n += 1
            started = time.perf_counter()
            try:
                conn.request(req.method, req.path, body=req.body, headers=req.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()  # a fresh connection for the next request
            mine.append(time.perf_counter() - started)
            codes[status] += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return LoadResult(clients, time.perf_counter() - started, latencies, statuses)


def fetch(host: str, port: int, req: Request, timeout: float = 60.0) -> tuple[int, dict[str, str], bytes, float]:
    """One request on a fresh connection: (status, headers, body, seconds)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.request(req.method, req.path, body=req.body, headers=req.headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, time.perf_counter() - started
    finally:
        conn.close()
