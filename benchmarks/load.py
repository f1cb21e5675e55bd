"""Load: many concurrent scrapers and a few slow clients against the real exporter, while it polls.

Everything runs on 127.0.0.1 and stops by itself (bounded in time and count):

* the provider simulator (``python -m exporter.simulator``) in its own process;
* the real exporter, started as users start it (the ``llm-cost-exporter`` console script with a
  config file of several OpenAI and Anthropic accounts against the simulator, a short
  ``poll_interval``, ``--log.level debug`` so every completed source poll is logged);
* in this process: scrapers on aiohttp, each with its own keep-alive connection, each
  scraping ``/metrics`` in a loop with no pause (a closed loop: with N scrapers, latency is
  about N / throughput), sending Prometheus's headers (gzip negotiated; the body is read raw,
  as decompressing is the scraper's cost).

Conditions, polls running throughout:

1. **unloaded**: one scraper, for reference latency;
2. **scrapers**: ``scrapers`` concurrent scrapers, ``seconds`` in all;
3. **scrapers + slow clients**: the same, plus a handful of clients that misbehave on raw
   sockets with a tiny receive buffer: ``drip`` reads the uncompressed body 16 bytes every
   half second, ``stalled`` sends a request and never reads, ``partial`` sends a request line
   and one header byte every 2 s without ever finishing the headers, ``idle`` connects and
   sends nothing.

2 and 3 alternate in halves (2, 3, 2, 3), so that the drift of a shared machine falls on both.

Reported per phase: requests, errors (any exception, timeout, non-200 status or body that is
not gzip), latency p50/p99/max, throughput, the exporter's CPU time, and its polls (from its
debug log): how many completed against those due at the unloaded rate (each source every
``poll_interval``, or back to back when an unloaded poll takes longer), how long each took,
and how many failed. Over the whole run: the exporter's RSS before the load, at
the middle, at the end and its peak. Latency is reported, never asserted; errors must be 0
(the exit status is non-zero otherwise).

Usage::

    python -m benchmarks.load                 # 200 scrapers, 30 s per condition
    python -m benchmarks.load --smoke         # 20 scrapers, 4 s per condition
    python -m benchmarks.load --json out.json

``python -m benchmarks`` runs it with the other benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

REPO = Path(__file__).resolve().parent.parent
SIMULATOR_SEED = 7
OPENAI_KEY = f"sk-admin-simulator-{SIMULATOR_SEED}"
ANTHROPIC_KEY = f"sk-ant-admin01-simulator-{SIMULATOR_SEED}"
#: What Prometheus 2.x/3.x sends when it scrapes.
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/3.0.0",
}
SLOW_KINDS = ("drip", "stalled", "partial", "idle")
#: Each condition runs in this many segments, alternating with the other.
SEGMENTS = 2

#: Targets (issue 8: zero errors; the others are this benchmark's own bar).
TARGET_ERRORS = 0
#: p50 scrape latency with the slow clients / without them (a blocked event loop would show
#: as seconds).
TARGET_SLOW_CLIENT_RATIO = 1.5
#: Median source poll duration with the slow clients / without them (a blocked poller would
#: show as polls that never finish).
TARGET_SLOW_CLIENT_POLL_RATIO = 1.5
#: RSS growth over the second half of the load (a leak of a few hundred bytes per scrape
#: shows here: the full run serves tens of thousands of scrapes).
TARGET_RSS_GROWTH_MB = 10.0


@dataclass(frozen=True)
class LoadSizes:
    scrapers: int
    #: Length of each loaded phase.
    seconds: float
    unloaded_seconds: float
    #: Slow clients of each kind (``SLOW_KINDS``) in the slow-client condition.
    slow_per_kind: tuple[int, ...]
    #: Accounts polled (alternately OpenAI and Anthropic) and their poll interval.
    accounts: int
    poll_interval: float
    #: Simulator page size: small, so every report takes several pages.
    page_size: int


FULL = LoadSizes(200, 30.0, 6.0, (3, 3, 2, 2), 4, 5.0, 7)
SMOKE = LoadSizes(20, 4.0, 1.0, (1, 1, 1, 1), 2, 1.0, 7)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def exporter_command() -> list[str]:
    """The installed console script (as users run it); ``python -m exporter`` without one."""
    beside = Path(sys.executable).with_name("llm-cost-exporter")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("llm-cost-exporter")
    return [found] if found else [sys.executable, "-m", "exporter"]


def child_env(poll_interval: float) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # Loopback only: no proxy; no account discovered from the environment.
        if not k.lower().endswith("_proxy") and not k.startswith("LLM_EXPORTER_")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["LLM_EXPORTER_POLL_INTERVAL"] = f"{poll_interval:g}s"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


class Child:
    """A subprocess whose output goes to a file; stopped (terminate, then kill) on exit."""

    def __init__(self, name: str, command: Sequence[str], workdir: Path, env: dict[str, str]):
        self.name = name
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                list(command),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@contextlib.contextmanager
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def write_config(path: Path, simulator: str, accounts: int) -> None:
    listed = []
    for i in range(accounts):
        provider = "openai" if i % 2 == 0 else "anthropic"
        key = OPENAI_KEY if provider == "openai" else ANTHROPIC_KEY
        listed.append(
            {"provider": provider, "name": f"load{i:02d}", "api_key": key, "base_url": simulator}
        )
    # poll_interval comes from LLM_EXPORTER_POLL_INTERVAL (child_env), as a user would set it.
    path.write_text(yaml.safe_dump({"accounts": listed}), encoding="utf-8")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    # utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_for(probe: Any, what: str, watched: Sequence[Child], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, aiohttp.ClientError, TimeoutError):
            if await probe():
                return
        for child in watched:
            child.check_running()
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {c.name}\n{c.tail()}" for c in watched)
            raise RuntimeError(f"timed out waiting for {what}\n{tails}")
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- scrapers


@dataclass
class PhaseResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def percentile(ordered: Sequence[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def scraper(
    session: aiohttp.ClientSession, url: str, deadline: float, result: PhaseResult
) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            async with session.get(url, headers=PROMETHEUS_HEADERS) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            result.errors[type(exc).__name__] += 1
            continue
        elapsed = time.perf_counter() - started
        if status != 200:
            result.errors[f"HTTP {status}"] += 1
        elif not body.startswith(b"\x1f\x8b"):
            result.errors["body not gzip"] += 1
        else:
            result.latencies.append(elapsed)


async def scrape_phase(url: str, scrapers: int, seconds: float) -> PhaseResult:
    result = PhaseResult()
    connector = aiohttp.TCPConnector(limit=scrapers, limit_per_host=scrapers)
    async with aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=30),
        trust_env=False,
    ) as session:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(scraper(session, url, deadline, result) for _ in range(scrapers)))
        result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- slow clients


@dataclass
class SlowClient:
    kind: str
    sock: socket.socket
    received: int = 0
    closed_by_server: bool = False


def request_bytes(port: int, encoding: str) -> bytes:
    return (
        f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Accept-Encoding: {encoding}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()


async def open_slow_client(kind: str, port: int) -> SlowClient:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A tiny receive window before connecting, so the exporter cannot push the body into the
    # kernel: what it has not sent waits in its own buffers, for this connection only.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    if kind in ("drip", "stalled"):
        await loop.sock_sendall(sock, request_bytes(port, "identity"))
    elif kind == "partial":
        await loop.sock_sendall(
            sock, f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
        )
    return SlowClient(kind, sock)


async def misbehave(client: SlowClient, until: float) -> None:
    loop = asyncio.get_running_loop()

    async def pause(seconds: float) -> None:
        await asyncio.sleep(max(0.0, min(seconds, until - time.perf_counter())))

    while time.perf_counter() < until and not client.closed_by_server:
        try:
            if client.kind == "drip":
                left = max(0.01, until - time.perf_counter())
                try:
                    chunk = await asyncio.wait_for(loop.sock_recv(client.sock, 16), left)
                except TimeoutError:
                    return  # nothing came before the end of the segment
                if not chunk:
                    client.closed_by_server = True
                client.received += len(chunk)
                await pause(0.5)
            elif client.kind == "partial":
                await loop.sock_sendall(client.sock, b"X")
                await pause(2.0)
            else:
                await pause(0.5)
        except OSError:
            client.closed_by_server = True


def close_slow_clients(clients: Sequence[SlowClient]) -> None:
    for client in clients:
        with contextlib.suppress(OSError):
            client.sock.close()


# --------------------------------------------------------------------------- exporter log


@dataclass
class Polls:
    """The exporter's source polls in a time window, from its debug log."""

    completed: int = 0
    failed: int = 0
    #: Of each completed poll, as the exporter logged it.
    durations: list[float] = field(default_factory=list)
    #: Distinct sources polled successfully at any time (not only in the window).
    sources: set[str] = field(default_factory=set)


def polls_in(log: Path, start: float, end: float) -> Polls:
    polls = Polls()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = str(entry.get("msg", ""))
        # "polled openai/load00 costs: 12 records in 0.12s" / "poll failed: openai/load00 ..."
        polled = message.startswith("polled ")
        if not polled and not message.startswith("poll failed: "):
            continue
        if polled:
            polls.sources.add(message.split(":", 1)[0])
        at = datetime.fromisoformat(entry["ts"]).timestamp()
        if not start <= at < end:
            continue
        if polled:
            polls.completed += 1
            polls.durations.append(float(message.rsplit(" in ", 1)[1].rstrip("s")))
        else:
            polls.failed += 1
    return polls


# --------------------------------------------------------------------------- run


@dataclass
class Condition:
    """One load condition over its segments."""

    result: PhaseResult = field(default_factory=PhaseResult)
    wall: float = 0.0
    exporter_cpu: float = 0.0
    client_cpu: float = 0.0
    simulator_cpu: float = 0.0
    polls: list[Polls] = field(default_factory=list)
    clients: list[SlowClient] = field(default_factory=list)

    def add(
        self,
        result: PhaseResult,
        wall: float,
        exporter_cpu: float,
        client_cpu: float,
        simulator_cpu: float,
        polls: Polls,
        clients: Sequence[SlowClient],
    ) -> None:
        self.result.seconds += result.seconds
        self.result.latencies += result.latencies
        self.result.errors.update(result.errors)
        self.wall += wall
        self.exporter_cpu += exporter_cpu
        self.client_cpu += client_cpu
        self.simulator_cpu += simulator_cpu
        self.polls.append(polls)
        self.clients += clients

    def summary(self, scrapers: int, expected_period: float) -> dict[str, Any]:
        phase = summary(self.result, scrapers)
        sources = set().union(*(p.sources for p in self.polls))
        completed = sum(p.completed for p in self.polls)
        due = len(sources) * self.wall / expected_period
        phase.update(
            polls_completed=completed,
            polls_due=round(due, 1),
            expected_poll_period_s=expected_period,
            polls_ratio=completed / due if due else 0.0,
            poll_failures=sum(p.failed for p in self.polls),
            poll_duration_ms=duration_summary([d for p in self.polls for d in p.durations]),
            exporter_cpu_s=round(self.exporter_cpu, 2),
            exporter_cpu_ms_per_scrape=self.exporter_cpu * 1000 / max(1, phase["requests"]),
            # Shares of one core: on a small machine the load client is often the limit.
            exporter_cpu_share=self.exporter_cpu / self.wall,
            client_cpu_share=self.client_cpu / self.wall,
            simulator_cpu_share=self.simulator_cpu / self.wall,
        )
        if self.clients:
            phase["slow_clients"] = {
                kind: {
                    "count": sum(1 for c in self.clients if c.kind == kind) // SEGMENTS,
                    "bytes_received": sum(c.received for c in self.clients if c.kind == kind),
                    "closed_by_server": sum(
                        1 for c in self.clients if c.kind == kind and c.closed_by_server
                    ),
                }
                for kind in SLOW_KINDS
            }
        return phase


def duration_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Median and max of the source poll durations the exporter logged (0 when none)."""
    ordered = sorted(seconds) or [0.0]
    return {"p50": percentile(ordered, 0.5) * 1000, "max": ordered[-1] * 1000}


def summary(result: PhaseResult, scrapers: int) -> dict[str, Any]:
    ordered = sorted(result.latencies)
    if not ordered:
        raise RuntimeError(f"no successful scrape; errors: {dict(result.errors)}")
    return {
        "scrapers": scrapers,
        "seconds": round(result.seconds, 2),
        "requests": len(ordered) + sum(result.errors.values()),
        "errors": sum(result.errors.values()),
        "error_kinds": dict(result.errors),
        "p50_ms": percentile(ordered, 0.5) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": ordered[-1] * 1000,
        "throughput_rps": len(ordered) / result.seconds,
    }


async def run(sizes: LoadSizes) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="llm-exporter-load-"))
    try:
        with children() as started:
            return await _run(sizes, workdir, started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _run(sizes: LoadSizes, workdir: Path, started: list[Child]) -> dict[str, Any]:
    env = child_env(sizes.poll_interval)
    sim_port, port = free_port(), free_port()
    simulator_command = [sys.executable, "-m", "exporter.simulator"]
    simulator_command += ["--listen", f"127.0.0.1:{sim_port}", "--seed", str(SIMULATOR_SEED)]
    simulator_command += ["--page-size", str(sizes.page_size)]
    simulator = Child("simulator", simulator_command, workdir, env)
    started.append(simulator)

    async def simulator_listening() -> bool:
        _reader, writer = await asyncio.open_connection("127.0.0.1", sim_port)
        writer.close()
        return True

    await wait_for(simulator_listening, "the simulator", [simulator])

    config = workdir / "exporter.yml"
    write_config(config, f"http://127.0.0.1:{sim_port}", sizes.accounts)
    program = exporter_command()
    flags = ["--web.listen-address", f"127.0.0.1:{port}", "--log.level", "debug"]
    flags += ["--log.format", "json"]
    exporter = Child("exporter", [*program, "--config.file", str(config), *flags], workdir, env)
    started.append(exporter)
    base = f"http://127.0.0.1:{port}"
    url = base + "/metrics"

    async with aiohttp.ClientSession(trust_env=False) as probe_session:

        async def ready() -> bool:
            async with probe_session.get(base + "/-/ready") as response:
                return response.status == 200

        await wait_for(ready, "the exporter's first poll round", [simulator, exporter])
        async with probe_session.get(url, headers={"Accept-Encoding": "identity"}) as response:
            plain = await response.read()
        async with probe_session.get(
            url, headers=PROMETHEUS_HEADERS, auto_decompress=False
        ) as response:
            packed = await response.read()
    text = gzip.decompress(packed).decode()
    if "llm_cost_usd_total{" not in text or "llm_source_up{" not in text:
        raise RuntimeError("the exporter serves no provider data:\n" + text[:2000])
    series = sum(1 for line in plain.decode().splitlines() if line and line[0] != "#")

    rss: list[tuple[float, float]] = []
    sampling = True

    async def sample_rss() -> None:
        while sampling:
            rss.append((time.time(), rss_mb(exporter.pid)))
            await asyncio.sleep(0.5)

    results: dict[str, Any] = {
        "sizes": sizes.__dict__,
        "exporter": {
            "command": " ".join(
                [Path(program[0]).name, *program[1:], "--config.file", "…", *flags]
            ),
            "accounts": sizes.accounts,
            "poll_interval_s": sizes.poll_interval,
            "series": series,
            "body_bytes": len(plain),
            "gzip_bytes": len(packed),
        },
    }
    rss_start = rss_mid = rss_mb(exporter.pid)
    unloaded = await scrape_phase(url, 1, sizes.unloaded_seconds)
    results["unloaded"] = summary(unloaded, 1)
    # Polls before the load (the first round included: the unloaded phase is short).
    quiet = polls_in(exporter.log, 0.0, time.time())
    results["unloaded"]["poll_duration_ms"] = duration_summary(quiet.durations)
    # A source is polled every poll_interval, or back to back when a poll takes longer.
    expected_period = max(sizes.poll_interval, percentile(sorted(quiet.durations), 0.5))
    sampler = asyncio.create_task(sample_rss())
    conditions = {"scrapers": Condition(), "scrapers_and_slow_clients": Condition()}
    # A B A B: drift of a shared machine falls on both conditions alike.
    order = [("scrapers", False), ("scrapers_and_slow_clients", True)] * SEGMENTS
    try:
        for index, (name, slow) in enumerate(order):
            clients: list[SlowClient] = []
            try:
                if slow:
                    for kind, count in zip(SLOW_KINDS, sizes.slow_per_kind, strict=True):
                        clients += [await open_slow_client(kind, port) for _ in range(count)]
                wall0, cpu0 = time.time(), cpu_seconds(exporter.pid)
                client0, simulator0 = time.process_time(), cpu_seconds(simulator.pid)
                seconds = sizes.seconds / SEGMENTS
                until = time.perf_counter() + seconds
                misbehaving = [asyncio.create_task(misbehave(c, until)) for c in clients]
                result = await scrape_phase(url, sizes.scrapers, seconds)
                await asyncio.gather(*misbehaving)
                wall1, cpu1 = time.time(), cpu_seconds(exporter.pid)
                client_cpu = time.process_time() - client0
                simulator_cpu = cpu_seconds(simulator.pid) - simulator0
            finally:
                close_slow_clients(clients)
            exporter.check_running()
            conditions[name].add(
                result,
                wall1 - wall0,
                cpu1 - cpu0,
                client_cpu,
                simulator_cpu,
                polls_in(exporter.log, wall0, wall1),
                clients,
            )
            if index == len(order) // 2 - 1:
                rss_mid = rss_mb(exporter.pid)
    finally:
        sampling = False
        await sampler
    phases = {
        name: condition.summary(sizes.scrapers, expected_period)
        for name, condition in conditions.items()
    }
    rss_end = rss_mb(exporter.pid)
    results["phases"] = phases
    results["rss_mb"] = {
        "start": rss_start,
        "mid": rss_mid,
        "end": rss_end,
        "peak": max([rss_start, rss_end] + [r for _, r in rss]),
        "growth_start_to_end": rss_end - rss_start,
        "growth_mid_to_end": rss_end - rss_mid,
        "samples": [round(r, 1) for _, r in rss],
    }
    without, with_slow = phases["scrapers"], phases["scrapers_and_slow_clients"]
    results["slow_client_p50_ratio"] = with_slow["p50_ms"] / without["p50_ms"]
    results["slow_client_throughput_ratio"] = (
        with_slow["throughput_rps"] / without["throughput_rps"]
    )
    without_polls = without["poll_duration_ms"]["p50"]
    results["slow_client_poll_duration_ratio"] = (
        with_slow["poll_duration_ms"]["p50"] / without_polls if without_polls else 0.0
    )
    results["targets"] = targets(results)
    return results


def targets(results: dict[str, Any]) -> dict[str, bool]:
    phases = results["phases"].values()
    return {
        "zero_errors": all(p["errors"] == TARGET_ERRORS for p in phases),
        "zero_poll_failures": all(p["poll_failures"] == 0 for p in phases),
        "slow_clients_do_not_slow_scrapes": results["slow_client_p50_ratio"]
        <= TARGET_SLOW_CLIENT_RATIO,
        "slow_clients_do_not_slow_polls": 0
        < results["slow_client_poll_duration_ratio"]
        <= TARGET_SLOW_CLIENT_POLL_RATIO,
        "rss_stable": results["rss_mb"]["growth_mid_to_end"] <= TARGET_RSS_GROWTH_MB,
    }


def failed_hard(results: dict[str, Any]) -> bool:
    """Errors (scrapes or polls) fail the run; latency and the other figures are reported."""
    t = results["targets"]
    return not (t["zero_errors"] and t["zero_poll_failures"])


def print_table(results: dict[str, Any]) -> None:
    exporter = results["exporter"]
    print(
        f"exporter: {exporter['accounts']} accounts polled every {exporter['poll_interval_s']:g}s,"
        f" {exporter['series']} series, body {exporter['body_bytes']} B"
        f" ({exporter['gzip_bytes']} B gzip)"
    )
    u = results["unloaded"]
    print(
        f"unloaded (1 scraper): p50 {u['p50_ms']:.2f} ms, p99 {u['p99_ms']:.2f} ms;"
        f" source poll p50 {u['poll_duration_ms']['p50']:.0f} ms"
    )
    for name, p in results["phases"].items():
        print(
            f"{name}: {p['scrapers']} scrapers {p['seconds']:.0f}s: {p['requests']} requests,"
            f" {p['errors']} errors, p50 {p['p50_ms']:.1f} / p99 {p['p99_ms']:.1f} /"
            f" max {p['max_ms']:.1f} ms, {p['throughput_rps']:.0f}/s; polls"
            f" {p['polls_completed']}/{p['polls_due']:.0f} due (at the unloaded"
            f" rate), {p['poll_failures']} failed,"
            f" p50 {p['poll_duration_ms']['p50']:.0f} ms;"
            f" exporter CPU {p['exporter_cpu_ms_per_scrape']:.2f} ms/scrape"
            f" ({p['exporter_cpu_share']:.0%} of a core; client {p['client_cpu_share']:.0%},"
            f" simulator {p['simulator_cpu_share']:.0%})"
        )
        for kind, c in p.get("slow_clients", {}).items():
            print(
                f"  slow {kind}: {c['count']} clients, {c['bytes_received']} B received,"
                f" {c['closed_by_server']} closed by the exporter"
            )
    r = results["rss_mb"]
    print(
        f"exporter RSS MB: start {r['start']:.1f}, mid {r['mid']:.1f}, end {r['end']:.1f},"
        f" peak {r['peak']:.1f}"
    )
    for name, met in results["targets"].items():
        print(f"target {name}: {'ok' if met else 'MISSED'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="20 scrapers, 4 s per condition")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    results = asyncio.run(run(SMOKE if args.smoke else FULL))
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 1 if failed_hard(results) else 0


if __name__ == "__main__":
    sys.exit(main())
