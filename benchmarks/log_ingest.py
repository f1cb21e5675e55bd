"""Claude Code log ingest benchmark: our reader versus ccusage 20.0.24 on the same corpus.

Generates a realistic Claude Code corpus (``tests/corpora/claude_code.py``: large user and
tool-result lines, small streamed assistant lines, sidechains, sub-agents, resumed sessions,
malformed lines) of a given size, warms the page cache, then in one run and alternately:

* ccusage 20.0.24's native binary: ``TZ=UTC CLAUDE_CONFIG_DIR=<corpus> ccusage claude daily
  --json --offline`` (wall time, peak RSS);
* the exporter's ``claude_code`` source in a fresh Python process: the first poll (cold ingest:
  ``ClaudeLogReader.refresh`` plus the records of the month), then steady-state polls with no
  new data and after appending 1 MB of new calls to a transcript.

Peak RSS: ``ru_maxrss`` of each process as ``wait4`` reports it, and for our reader (whose
first pass may use decoding worker processes) the largest sum of the RSS of its whole process
tree, sampled every 10 ms. Results are printed as a table and written as JSON.

Not part of the test suite. Usage::

    python benchmarks/log_ingest.py                  # 1 GB
    python benchmarks/log_ingest.py --size 50MB      # smoke
    python benchmarks/log_ingest.py --size 1GB --dir /tmp/claude-1g --keep --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CCUSAGE_VERSION = "20.0.24"
CCUSAGE_PREFIX = Path.home() / ".cache" / "llm-cost-exporter-tests" / "ccusage"
#: Steady-state targets from the issue.
POLL_TARGET_MS = 20.0
RSS_TARGET_MB = 150.0
UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if match is None or match.group(2).upper() not in UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 50MB, 1GB)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


# --------------------------------------------------------------------------- child: our reader


def child(corpus: Path, appends: int, polls: int) -> None:
    """Runs in a fresh process: the claude_code source's cold poll and steady-state polls."""
    from exporter.config import PricingConfig
    from exporter.pricing import load_catalog
    from exporter.providers.base import DIMENSIONS, SourceContext
    from exporter.providers.claude_code import PROVIDER, ClaudeCodeOptions
    from tests.corpora.claude_code import append_calls

    catalog = load_catalog(PricingConfig())
    memo: dict[str, Any] = {}
    source = PROVIDER.sources["logs"]

    def context() -> SourceContext:
        now = datetime.now(UTC)
        return SourceContext(
            upstream=None,  # type: ignore[arg-type]  # local logs never use it
            start=now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
            end=now,
            group_by=frozenset(DIMENSIONS),
            options=ClaudeCodeOptions(paths=(corpus,), project_label="basename"),
            catalog=catalog,
            memo=memo,
        )

    async def poll() -> tuple[float, int]:
        ctx = context()
        started = time.perf_counter()
        records = await source(ctx)
        return time.perf_counter() - started, len(records)

    async def run() -> tuple[float, int, float, int, list[float], list[float]]:
        # One event loop for every poll, as in the exporter.
        cold, records = await poll()
        since_launch = time.time() - float(os.environ.get("BENCH_LAUNCHED", "nan"))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await asyncio.sleep(2.5)  # let directory times settle (see ClaudeLogReader listings)
        idle = [(await poll())[0] for _ in range(polls)]
        # The parent cuts this transcript back to its size after the run.
        target = max(sorted(corpus.rglob("*.jsonl")), key=lambda p: p.stat().st_size)
        appended = []
        for index in range(appends):
            append_calls(
                target,
                1_000_000,
                seed=1000 + index,
                at=datetime.now(UTC) - timedelta(minutes=30),
                cwd="/home/dev/src/bench",
            )
            appended.append((await poll())[0])
        return cold, records, since_launch, rss, idle, appended

    cold, records, cold_since_launch, cold_rss, idle, appended = asyncio.run(run())
    reader = memo["claude_log_reader"]
    json.dump(
        {
            "cold_s": cold,
            "cold_since_launch_s": cold_since_launch,
            "records": records,
            "kept_entries": reader.kept_entries(),
            "skipped": reader.skipped(),
            "cold_self_maxrss_mb": cold_rss / 1024,
            "idle_poll_ms": [x * 1000 for x in idle],
            "append_1mb_poll_ms": [x * 1000 for x in appended],
            "msgspec": importlib.util.find_spec("msgspec") is not None,
        },
        sys.stdout,
    )


# --------------------------------------------------------------------------- parent


def tree_rss(root: int, *, include_root: bool = True) -> int:
    """Bytes resident in the descendants of ``root`` (and ``root``) (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    members, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child_pid, parent in parents.items():
            if parent == pid and child_pid not in members:
                members.add(child_pid)
                frontier.append(child_pid)
    if not include_root:
        members.discard(root)
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in members:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


#: Runs a command in a fresh process, so that RUSAGE_CHILDREN is the command's own (with its
#: descendants): ``python -c WRAPPER result.json command...``.
WRAPPER = """
import json, os, resource, subprocess, sys, time
os.environ["BENCH_LAUNCHED"] = repr(time.time())
started = time.perf_counter()
code = subprocess.run(sys.argv[2:]).returncode
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"wall_s": wall, "maxrss_kb": usage.ru_maxrss, "user_s": usage.ru_utime}, out)
sys.exit(code)
"""


def run_measured(command: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a command: wall time, peak RSS of its largest process (getrusage in a fresh parent)
    and the largest sum of the RSS of all its processes (sampled every 10 ms)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result_file:
        wrapper = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, result_file.name, *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(wrapper.pid, include_root=False))
                done.wait(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = wrapper.communicate()
        done.set()
        sampler.join()
        if wrapper.returncode != 0:
            raise SystemExit(
                f"{command[0]} failed ({wrapper.returncode}): {stderr.decode()[-2000:]}"
            )
        measured = json.loads(Path(result_file.name).read_text())
    return {
        "wall_s": measured["wall_s"],
        "maxrss_mb": measured["maxrss_kb"] / 1024,
        "tree_peak_rss_mb": peak / 2**20,
        "user_s": measured["user_s"],
        "stdout": stdout.decode(),
    }


def ccusage_binary() -> Path:
    launcher = CCUSAGE_PREFIX / "node_modules" / ".bin" / "ccusage"
    native = CCUSAGE_PREFIX / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
    if not launcher.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install ccusage@20.0.24")
        subprocess.run(
            [npm, "install", "--prefix", str(CCUSAGE_PREFIX), f"ccusage@{CCUSAGE_VERSION}"],
            check=True,
        )
    if not (native.exists() and os.access(native, os.X_OK)):
        # The npm launcher marks the native binary executable on its first run.
        subprocess.run([str(launcher), "--version"], check=True, capture_output=True)
    return native if native.exists() else launcher


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            ]
        info["cpu"] = names[0] if names else platform.processor()
        with open("/proc/meminfo") as meminfo:
            info["memory_gb"] = round(int(meminfo.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def generate_corpus(directory: Path, size: int, seed: int) -> dict[str, Any]:
    from tests.corpora.claude_code import generate

    stamp = directory / ".benchmark-corpus.json"
    wanted = {"size": size, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()).get("request") == wanted:
        return dict(json.loads(stamp.read_text())["corpus"])
    if directory.exists():
        shutil.rmtree(directory)
    started = time.perf_counter()
    expected = generate(directory, target_bytes=size, seed=seed)
    corpus = {
        "bytes": expected.bytes,
        "files": expected.files,
        "generated_in_s": round(time.perf_counter() - started, 1),
    }
    stamp.write_text(json.dumps({"request": wanted, "corpus": corpus}))
    return corpus


def warm(directory: Path) -> None:
    for path in directory.rglob("*.jsonl"):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--size", type=parse_size, default=parse_size("1GB"), help="corpus size (default 1GB)"
    )
    parser.add_argument(
        "--dir", type=Path, help="corpus directory (reused when size and seed match)"
    )
    parser.add_argument("--keep", action="store_true", help="keep a generated temporary corpus")
    parser.add_argument("--seed", type=int, default=20261020)
    parser.add_argument("--repeat", type=int, default=3, help="cold runs of each tool (default 3)")
    parser.add_argument("--polls", type=int, default=20, help="steady-state polls without new data")
    parser.add_argument("--appends", type=int, default=3, help="polls after appending 1 MB each")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.appends, args.polls)
        return

    temporary = args.dir is None
    corpus_dir = args.dir or Path(tempfile.mkdtemp(prefix="claude-bench-"))
    try:
        print(f"corpus: {corpus_dir} ({args.size / 1e6:.0f} MB requested)", flush=True)
        corpus = generate_corpus(corpus_dir, args.size, args.seed)
        binary = ccusage_binary()
        home = Path(tempfile.mkdtemp(prefix="claude-bench-home-"))
        ccusage_env = {
            **os.environ,
            "TZ": "UTC",
            "CLAUDE_CONFIG_DIR": str(corpus_dir),
            "HOME": str(home),
        }
        ours_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        warm(corpus_dir)
        runs: dict[str, list[dict[str, Any]]] = {"ccusage": [], "ours": []}
        # Ours appends 1 MB to the largest transcript; it is cut back after each run.
        target = max(sorted(corpus_dir.rglob("*.jsonl")), key=lambda p: p.stat().st_size)
        original_size = target.stat().st_size
        for _ in range(args.repeat):
            # Alternate so that both see the same machine state and a warm page cache.
            runs["ccusage"].append(
                run_measured([str(binary), "claude", "daily", "--json", "--offline"], ccusage_env)
            )
            command = [sys.executable, str(Path(__file__).resolve()), "--child", str(corpus_dir)]
            command += ["--polls", str(args.polls), "--appends", str(args.appends)]
            try:
                result = run_measured(command, ours_env)
            finally:
                os.truncate(target, original_size)
            result.update(json.loads(result.pop("stdout")))
            runs["ours"].append(result)
        shutil.rmtree(home, ignore_errors=True)
        report = summarize(corpus, runs)
        report["machine"] = machine()
        report["ccusage"] = {"version": CCUSAGE_VERSION, "binary": str(binary)}
        print_table(report)
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=2))
            print(f"written: {args.json}")
    finally:
        if temporary and not args.keep:
            shutil.rmtree(corpus_dir, ignore_errors=True)


def summarize(corpus: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    ours, theirs = runs["ours"], runs["ccusage"]
    median = statistics.median
    cold_ours = median(r["cold_s"] for r in ours)
    wall_theirs = median(r["wall_s"] for r in theirs)
    idle = [x for r in ours for x in r["idle_poll_ms"]]
    appended = [x for r in ours for x in r["append_1mb_poll_ms"]]
    return {
        "corpus": corpus,
        "ccusage_cold_wall_s": [round(r["wall_s"], 3) for r in theirs],
        "ccusage_maxrss_mb": [round(r["maxrss_mb"], 1) for r in theirs],
        "ours_cold_ingest_s": [round(r["cold_s"], 3) for r in ours],
        "ours_cold_since_launch_s": [round(r["cold_since_launch_s"], 3) for r in ours],
        "ours_maxrss_mb": [round(r["cold_self_maxrss_mb"], 1) for r in ours],
        "ours_maxrss_incl_workers_and_appends_mb": [round(r["maxrss_mb"], 1) for r in ours],
        "ours_tree_peak_rss_mb": [round(r["tree_peak_rss_mb"], 1) for r in ours],
        "ratio_cold_ingest_vs_ccusage": round(cold_ours / wall_theirs, 2),
        "ratio_since_launch_vs_ccusage": round(
            median(r["cold_since_launch_s"] for r in ours) / wall_theirs, 2
        ),
        "idle_poll_ms": {"median": round(median(idle), 2), "max": round(max(idle), 2)},
        "append_1mb_poll_ms": {
            "median": round(median(appended), 2),
            "max": round(max(appended), 2),
        },
        "kept_entries": ours[-1]["kept_entries"],
        "skipped": ours[-1]["skipped"],
        "msgspec": ours[-1]["msgspec"],
        "targets": {
            "cold_ingest_not_slower_than_ccusage": cold_ours <= wall_theirs,
            "idle_poll_within_20ms": median(idle) <= POLL_TARGET_MS,
            "append_1mb_poll_within_20ms": median(appended) <= POLL_TARGET_MS,
            "peak_rss_within_150mb": max(r["tree_peak_rss_mb"] for r in ours) <= RSS_TARGET_MB,
        },
    }


def print_table(report: dict[str, Any]) -> None:
    corpus = report["corpus"]
    rows = [
        ("corpus", f"{corpus['bytes'] / 1e6:.0f} MB in {corpus['files']} files"),
        ("ccusage cold (wall)", " ".join(f"{x:.2f}s" for x in report["ccusage_cold_wall_s"])),
        (
            "ours cold ingest (first poll)",
            " ".join(f"{x:.2f}s" for x in report["ours_cold_ingest_s"]),
        ),
        (
            "ours incl. process start + imports",
            " ".join(f"{x:.2f}s" for x in report["ours_cold_since_launch_s"]),
        ),
        (
            "ratio ours/ccusage (median)",
            f"{report['ratio_cold_ingest_vs_ccusage']:.2f} "
            f"(with start-up {report['ratio_since_launch_vs_ccusage']:.2f})",
        ),
        ("ccusage peak RSS", " ".join(f"{x:.0f}MB" for x in report["ccusage_maxrss_mb"])),
        (
            "ours peak RSS (largest process)",
            " ".join(f"{x:.0f}MB" for x in report["ours_maxrss_mb"]),
        ),
        (
            "ours peak RSS (process tree)",
            " ".join(f"{x:.0f}MB" for x in report["ours_tree_peak_rss_mb"]),
        ),
        (
            "poll, no new data",
            f"median {report['idle_poll_ms']['median']:.1f}ms, "
            f"max {report['idle_poll_ms']['max']:.1f}ms",
        ),
        (
            "poll, 1 MB appended",
            f"median {report['append_1mb_poll_ms']['median']:.1f}ms, "
            f"max {report['append_1mb_poll_ms']['max']:.1f}ms",
        ),
        ("kept entries / skipped", f"{report['kept_entries']} / {report['skipped']}"),
        ("decoder", "msgspec" if report["msgspec"] else "standard library json"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for target, met in report["targets"].items():
        print(f"{'target ' + target:<{width}}  {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
