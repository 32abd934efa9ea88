"""The open-loop replayer.

Requests leave on a schedule fixed before the replay starts (the capture's
recorded times divided by ``speed``, or ``i / rate``), whatever the target
does: a slow answer never delays the next send, and every latency is
measured from the request's *scheduled* time, so a stall shows up in the
latencies instead of vanishing from them (no coordinated omission).

``concurrency`` bounds the captured requests in flight (each with its
baseline copies). A request that cannot get a slot, or an answer, within
``timeout`` of its scheduled time is *lost*; every request sent ends up
either answered or counted under one error kind (``timeout`` = lost,
``connection_refused``, ``disconnected``, ``connect_error``, ``5xx``,
``other``). How late the sender was (actual send minus scheduled time) is
measured too: ``send_lag_p99_ms``.

HTTP is aiohttp's client (on uvloop's event loop when it is installed);
latency histograms are HdrHistogram's (1 µs to 60 s, 3 significant digits).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from ._errors import ReplayInputError, TargetUnreachableError
from .capture import CapturedRequest
from .compare import Answer, Comparator, Difference
from .endpoints import endpoint_of
from .goals import Goal, GoalResult

if TYPE_CHECKING:
    import aiohttp
    from hdrh.histogram import HdrHistogram

__all__ = ["EndpointStats", "ReplayOptions", "ReplayResult", "replay"]

#: headers never replayed: the connection's own, and what the client recomputes
DROPPED_HEADERS: Final = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "upgrade",
        "trailer",
    }
)
PERCENTILES: Final = (0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0)
_MAX_US: Final = 60_000_000
CONNECTION_ERRORS: Final = frozenset({"connection_refused", "disconnected", "connect_error"})


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to replay. ``baselines``: none (no comparison), one (asked twice
    per request, the two answers mark noise) or more (the first two mark
    noise). ``target_ephemeral``: the target (and baselines) are throwaway
    environments, so unsafe methods may be sent without ``include_unsafe``."""

    target: str
    baselines: tuple[str, ...] = ()
    speed: float = 1.0
    rate: float | None = None
    concurrency: int = 256
    timeout: float = 10.0
    include_unsafe: bool = False
    target_ephemeral: bool = False
    goals: tuple[Goal, ...] = ()
    limit: int | None = None
    #: stop sending when the target has answered nothing for this long and
    #: at least ``give_up_errors`` connection errors came in a row
    give_up_after: float = 5.0
    give_up_errors: int = 20

    def __post_init__(self) -> None:
        for url in (self.target, *self.baselines):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ReplayInputError(
                    f"{url!r} is not a target URL; write it like http://127.0.0.1:8000"
                )
        if self.rate is not None and self.rate <= 0:
            raise ReplayInputError(f"--rate {self.rate}: must be a positive number per second")
        if self.speed <= 0:
            raise ReplayInputError(f"--speed {self.speed}: must be positive (2 = twice as fast)")
        if self.concurrency < 1:
            raise ReplayInputError(f"--concurrency {self.concurrency}: must be at least 1")
        if self.timeout <= 0:
            raise ReplayInputError(f"--timeout {self.timeout}: must be positive seconds")


def _histogram() -> HdrHistogram:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(1, _MAX_US, 3)


def _ms(h: HdrHistogram, percentile: float) -> float | None:
    if h.get_total_count() == 0:
        return None
    if percentile >= 100.0:
        return float(h.get_max_value()) / 1000.0
    return float(h.get_value_at_percentile(percentile)) / 1000.0


def _record(h: HdrHistogram, seconds: float) -> None:
    h.record_value(min(max(int(seconds * 1e6), 1), _MAX_US))


@dataclass(slots=True)
class _Side:
    """Latencies and errors of one server (the target, or the first baseline)."""

    url: str
    overall: HdrHistogram = field(default_factory=_histogram)
    per_endpoint: dict[str, HdrHistogram] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    endpoint_errors: dict[str, Counter[str]] = field(default_factory=dict)
    answered: int = 0
    last_answer: float = 0.0

    def ok(self, endpoint: str, latency: float, now: float) -> None:
        _record(self.overall, latency)
        h = self.per_endpoint.get(endpoint)
        if h is None:
            h = self.per_endpoint[endpoint] = _histogram()
        _record(h, latency)
        self.answered += 1
        self.last_answer = now

    def error(self, endpoint: str, kind: str) -> None:
        self.errors[kind] += 1
        self.endpoint_errors.setdefault(endpoint, Counter())[kind] += 1


@dataclass(frozen=True, slots=True)
class EndpointStats:
    endpoint: str
    count: int
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    errors: int
    errors_by_kind: dict[str, int]
    distribution: tuple[tuple[float, float], ...]
    baseline: dict[str, Any] | None = None
    diff_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "endpoint": self.endpoint,
            "count": self.count,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "errors": self.errors,
            "errors_by_kind": self.errors_by_kind,
            "error_rate": round(self.errors / self.count, 6) if self.count else 0.0,
            "distribution": [list(p) for p in self.distribution],
        }
        if self.baseline is not None:
            for key, value in self.baseline.items():
                out[f"baseline_{key}"] = value
            out["diff_rate"] = self.diff_rate
        return out


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay measured and decided; :meth:`as_dict` is ``eph replay --json``."""

    ok: bool
    target: str
    baselines: tuple[str, ...]
    sent: int
    answered: int
    lost: int
    errors: dict[str, int]
    skipped_unsafe: int
    unsent: int
    aborted: str
    duration_s: float
    rps: float
    send_lag_p99_ms: float | None
    send_lag_max_ms: float | None
    overall: dict[str, float | None]
    baseline_overall: dict[str, float | None] | None
    endpoints: tuple[EndpointStats, ...]
    differences: tuple[Difference, ...]
    noise: dict[str, list[str]]
    goals: tuple[GoalResult, ...]
    compared: int

    @property
    def failed_goals(self) -> list[GoalResult]:
        return [g for g in self.goals if not g.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "target": self.target,
            "baselines": list(self.baselines),
            "sent": self.sent,
            "answered": self.answered,
            "lost": self.lost,
            "errors": dict(self.errors),
            "skipped_unsafe": self.skipped_unsafe,
            "unsent": self.unsent,
            "aborted": self.aborted or None,
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 2),
            "send_lag_p99_ms": self.send_lag_p99_ms,
            "send_lag_max_ms": self.send_lag_max_ms,
            "overall": self.overall,
            "baseline_overall": self.baseline_overall,
            "compared": self.compared,
            "endpoints": [e.as_dict() for e in self.endpoints],
            "differences": [d.as_dict() for d in self.differences],
            "noise": self.noise,
            "goals": [g.as_dict() for g in self.goals],
        }

    def summary(self) -> str:
        """A few lines for a terminal or a pytest report section."""
        lines = [
            f"replay {'ok' if self.ok else 'FAILED'}: {self.sent} sent, {self.answered} answered, "
            f"{self.lost} lost, errors {dict(self.errors) or 0}, in {self.duration_s:.1f}s "
            f"({self.rps:.0f}/s, send lag p99 {_fmt(self.send_lag_p99_ms)})"
        ]
        if self.skipped_unsafe:
            lines.append(
                f"  {self.skipped_unsafe} unsafe requests not sent (POST/PUT/PATCH/DELETE): "
                "pass --include-unsafe, or replay against an ephemeral environment"
            )
        if self.aborted:
            lines.append(f"  stopped early: {self.aborted}; {self.unsent} requests not sent")
        for e in self.endpoints:
            base = ""
            if e.baseline is not None:
                base = f"  baseline p95 {_fmt(e.baseline.get('p95_ms'))}"
            lines.append(
                f"  {e.endpoint:40} {e.count:7}  p50 {_fmt(e.p50_ms)}  p95 {_fmt(e.p95_ms)}  "
                f"p99 {_fmt(e.p99_ms)}  errors {e.errors}{base}"
            )
        if self.baselines:
            lines.append(
                f"  {len(self.differences)} unexplained differences in {self.compared} compared "
                f"answers" + (":" if self.differences else "")
            )
            for d in self.differences[:20]:
                ex = d.examples[0] if d.examples else {}
                lines.append(
                    f"    {d.endpoint} {d.field}: {d.count}x, e.g. {ex.get('request', '')} "
                    f"target {ex.get('target', '')} baseline {ex.get('baseline', '')}"
                )
        for g in self.goals:
            lines.append(f"  goal {g.line()}")
        return "\n".join(lines)


def _fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.1f}ms"


def _headers(req: CapturedRequest) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in req.headers
        if not name.startswith(":") and name.lower() not in DROPPED_HEADERS
    ]


def _error_kind(exc: BaseException) -> str:
    import aiohttp

    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection_refused"
        return "connect_error"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, ConnectionResetError)):
        return "disconnected"
    if isinstance(exc, aiohttp.ClientOSError) and isinstance(
        exc.__cause__ or exc, ConnectionResetError
    ):
        return "disconnected"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "disconnected"
    return "other"


async def _preflight(urls: Iterable[tuple[str, str]]) -> None:
    for option, url in urls:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
        except (OSError, asyncio.TimeoutError) as exc:
            why = (
                "connection refused"
                if isinstance(exc, ConnectionRefusedError)
                else ("no answer within 5s" if isinstance(exc, asyncio.TimeoutError) else str(exc))
            )
            raise TargetUnreachableError(
                f"{option} {url}: nothing answers at {host}:{port} ({why}); start the service "
                "or fix the URL"
            ) from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class _Replayer:
    def __init__(self, options: ReplayOptions, session: aiohttp.ClientSession) -> None:
        self.o = options
        self.session = session
        self.loop = asyncio.get_running_loop()
        self.sem = asyncio.Semaphore(options.concurrency)
        self.target = _Side(options.target.rstrip("/"))
        self.baseline = _Side(options.baselines[0].rstrip("/")) if options.baselines else None
        self.others = [u.rstrip("/") for u in options.baselines[1:]]
        self.comparator = Comparator()
        self.lag = _histogram()
        self.sent = 0
        self.skipped_unsafe = 0
        self.unsent = 0
        self.aborted = ""
        self.conn_errors_in_row = 0
        self.last_conn_error = ""
        self.started = 0.0
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(
        self, base: str, req: CapturedRequest, due: float, deadline: float
    ) -> Answer | str:
        from yarl import URL

        remaining = deadline - self.loop.time()
        if remaining <= 0:
            return "timeout"
        import aiohttp

        try:
            async with self.session.request(
                req.method,
                URL(base + req.target, encoded=True),
                headers=_headers(req),
                data=req.body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=remaining),
            ) as resp:
                body = await resp.read()
                headers = tuple((k.lower(), v) for k, v in resp.headers.items())
                return Answer(resp.status, headers, body)
        except Exception as exc:  # every failure is counted by kind, none escapes
            return _error_kind(exc)

    def account(self, side: _Side, endpoint: str, outcome: Answer | str, due: float) -> None:
        now = self.loop.time()
        if isinstance(outcome, str):
            side.error(endpoint, outcome)
            if side is self.target and outcome in CONNECTION_ERRORS:
                self.conn_errors_in_row += 1
                self.last_conn_error = outcome.replace("_", " ")
            return
        side.ok(endpoint, now - due, now)
        if outcome.status >= 500:
            side.error(endpoint, "5xx")
        if side is self.target:
            self.conn_errors_in_row = 0

    async def one(self, req: CapturedRequest, due: float, endpoint: str) -> None:
        deadline = due + self.o.timeout
        if self.sem.locked():  # every slot taken: wait for one, at most until the deadline
            try:
                await asyncio.wait_for(self.sem.acquire(), max(deadline - self.loop.time(), 0.0))
            except asyncio.TimeoutError:
                self.target.error(endpoint, "timeout")
                if self.baseline is not None:
                    self.baseline.error(endpoint, "timeout")
                self.comparator.skip(endpoint)
                return
        else:
            await self.sem.acquire()  # a free slot: no wait, no timer
        try:
            _record(self.lag, self.loop.time() - due)
            if self.baseline is None:
                outcomes: list[Answer | str] = [
                    await self.send(self.target.url, req, due, deadline)
                ]
            else:
                second = self.others[0] if self.others else self.baseline.url
                jobs = [
                    self.send(self.target.url, req, due, deadline),
                    self.send(self.baseline.url, req, due, deadline),
                    self.send(second, req, due, deadline),
                    *(self.send(u, req, due, deadline) for u in self.others[1:]),
                ]
                outcomes = list(await asyncio.gather(*jobs))
        finally:
            self.sem.release()
        self.account(self.target, endpoint, outcomes[0], due)
        if self.baseline is None:
            return
        self.account(self.baseline, endpoint, outcomes[1], due)
        cand, prim, sec = outcomes[0], outcomes[1], outcomes[2]
        if isinstance(cand, Answer) and isinstance(prim, Answer) and isinstance(sec, Answer):
            self.comparator.add(endpoint, req.target, cand, prim, sec)
        else:
            self.comparator.skip(endpoint)

    def allowed(self, req: CapturedRequest) -> bool:
        return not req.unsafe or self.o.include_unsafe or self.o.target_ephemeral

    def dead(self) -> bool:
        if self.conn_errors_in_row < self.o.give_up_errors:
            return False
        since = self.target.last_answer or self.started
        return self.loop.time() - since > self.o.give_up_after

    async def run(self, requests: Iterator[CapturedRequest]) -> None:
        o = self.o
        self.started = self.loop.time() + 0.02
        first_time: float | None = None
        offset = 0.0
        n = 0
        for req in requests:
            if o.limit is not None and n >= o.limit:
                break
            if not self.allowed(req):
                self.skipped_unsafe += 1
                continue
            if self.dead():
                self.aborted = (
                    f"the target stopped answering ({self.conn_errors_in_row} "
                    f"{self.last_conn_error} errors in a row, nothing answered for "
                    f"{o.give_up_after:.0f}s)"
                )
                rest = 1 + sum(1 for r in requests if self.allowed(r))
                self.unsent = rest if o.limit is None else min(rest, o.limit - n)
                break
            if o.rate is not None:
                offset = n / o.rate
            elif req.time is not None:
                if first_time is None:
                    first_time = req.time
                offset = max((req.time - first_time) / o.speed, 0.0)
            n += 1
            due = self.started + offset
            delay = due - self.loop.time()
            await asyncio.sleep(delay if delay > 0 else 0)
            self.sent += 1
            task = asyncio.create_task(self.one(req, due, endpoint_of(req.method, req.target)))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        while self.tasks:
            await asyncio.gather(*list(self.tasks))

    def result(self) -> ReplayResult:
        tgt, base = self.target, self.baseline
        end = max(tgt.last_answer, base.last_answer if base else 0.0, self.started)
        duration = max(end - self.started, 1e-9)
        endpoints = []
        names = sorted(set(tgt.per_endpoint) | set(tgt.endpoint_errors))
        for name in names:
            h = tgt.per_endpoint.get(name) or _histogram()
            errs = tgt.endpoint_errors.get(name, Counter())
            answered = h.get_total_count()
            not_answered = sum(v for k, v in errs.items() if k != "5xx")
            base_stats = None
            if base is not None:
                bh = base.per_endpoint.get(name) or _histogram()
                berrs = base.endpoint_errors.get(name, Counter())
                base_stats = {
                    "count": bh.get_total_count() + sum(v for k, v in berrs.items() if k != "5xx"),
                    "p50_ms": _ms(bh, 50),
                    "p90_ms": _ms(bh, 90),
                    "p95_ms": _ms(bh, 95),
                    "p99_ms": _ms(bh, 99),
                    "max_ms": _ms(bh, 100),
                    "errors": sum(berrs.values()),
                    "distribution": [[p, _ms(bh, p)] for p in PERCENTILES]
                    if bh.get_total_count()
                    else [],
                }
            endpoints.append(
                EndpointStats(
                    endpoint=name,
                    count=answered + not_answered,
                    p50_ms=_ms(h, 50),
                    p90_ms=_ms(h, 90),
                    p95_ms=_ms(h, 95),
                    p99_ms=_ms(h, 99),
                    max_ms=_ms(h, 100),
                    errors=sum(errs.values()),
                    errors_by_kind=dict(errs),
                    distribution=tuple((p, _ms(h, p) or 0.0) for p in PERCENTILES)
                    if answered
                    else (),
                    baseline=base_stats,
                    diff_rate=round(self.comparator.diff_rate(name), 6) if base else None,
                )
            )

        def overall(side: _Side) -> dict[str, float | None]:
            return {
                "p50_ms": _ms(side.overall, 50),
                "p90_ms": _ms(side.overall, 90),
                "p95_ms": _ms(side.overall, 95),
                "p99_ms": _ms(side.overall, 99),
                "max_ms": _ms(side.overall, 100),
            }

        differences = tuple(self.comparator.differences()) if base else ()
        stats = {e.endpoint: e for e in endpoints}
        metric = _metrics(self, stats, duration)
        goals = tuple(g.evaluate(metric) for g in self.o.goals)
        ok = all(g.ok for g in goals) and not differences and not self.aborted
        return ReplayResult(
            ok=ok,
            target=self.o.target,
            baselines=self.o.baselines,
            sent=self.sent,
            answered=tgt.answered,
            lost=tgt.errors.get("timeout", 0),
            errors=dict(tgt.errors),
            skipped_unsafe=self.skipped_unsafe,
            unsent=self.unsent,
            aborted=self.aborted,
            duration_s=duration,
            rps=tgt.answered / duration,
            send_lag_p99_ms=_ms(self.lag, 99),
            send_lag_max_ms=_ms(self.lag, 100),
            overall=overall(tgt),
            baseline_overall=overall(base) if base else None,
            endpoints=tuple(endpoints),
            differences=differences,
            noise=self.comparator.noise_summary() if base else {},
            goals=goals,
            compared=self.comparator.compared() if base else 0,
        )


def _metrics(
    r: _Replayer, stats: dict[str, EndpointStats], duration: float
) -> Callable[[str, str | None, str], float | None]:
    def value(metric: str, endpoint: str | None, side_name: str) -> float | None:
        side = r.target if side_name == "target" else r.baseline
        if side is None:
            return None
        if endpoint is not None and endpoint not in stats:
            return None
        if metric in ("p50", "p90", "p95", "p99", "max"):
            pct = 100.0 if metric == "max" else float(metric[1:])
            h = side.overall if endpoint is None else side.per_endpoint.get(endpoint)
            return None if h is None else _ms(h, pct)
        if metric == "error_rate":
            errs = (
                side.errors if endpoint is None else side.endpoint_errors.get(endpoint, Counter())
            )
            count = (
                r.sent
                if endpoint is None
                else (stats[endpoint].count if side is r.target else _base_count(stats, endpoint))
            )
            return sum(errs.values()) / count if count else 0.0
        if metric == "diff_rate":
            return r.comparator.diff_rate(endpoint) if r.baseline is not None else None
        # rps
        h = side.overall if endpoint is None else side.per_endpoint.get(endpoint)
        return (h.get_total_count() if h is not None else 0) / duration

    return value


def _base_count(stats: dict[str, EndpointStats], endpoint: str) -> int:
    base = stats[endpoint].baseline or {}
    return int(base.get("count") or 0)


def replay(requests: Iterable[CapturedRequest], options: ReplayOptions) -> ReplayResult:
    """Replay ``requests`` (e.g. :func:`~.capture.iter_capture`) as ``options`` say.

    Raises :class:`TargetUnreachableError` when the target or a baseline
    accepts no connection before the start; a target that dies during the
    replay is reported in the result (errors, ``aborted``), never a hang."""
    try:
        import uvloop  # faster event loop when installed (the replay extra has it)
    except ImportError:
        return asyncio.run(_replay(iter(requests), options))
    return uvloop.run(_replay(iter(requests), options))


async def _replay(requests: Iterator[CapturedRequest], options: ReplayOptions) -> ReplayResult:
    import aiohttp

    await _preflight(
        [("--target", options.target)] + [("--baseline", u) for u in options.baselines]
    )
    # plain http only: no TLS context (making one costs ~0.1 s, inside the schedule)
    plain = all(urlsplit(u).scheme == "http" for u in (options.target, *options.baselines))
    connector = aiohttp.TCPConnector(limit=0, ssl=not plain)
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        replayer = _Replayer(options, session)
        # what exists now lives through the replay: keep the collector off it, and
        # collect the young generations less often (fewer pauses inside the schedule)
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(20_000, 50, 1000)
        try:
            await replayer.run(requests)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        return replayer.result()
