"""Every benchmark, one table, one JSON: ``python -m benchmarks``.

Sections (``--only`` picks some, comma-separated):

* ``scrape``: ``/metrics`` at 1k/10k/50k series against ``prometheus_client.generate_latest``
  (:mod:`benchmarks.scrape`);
* ``poll``: a poll round of 10 accounts with 100 ms per request against the slowest account's
  sequential chain (:mod:`benchmarks.scrape`);
* ``memory``: RSS of a process holding 50k series (:mod:`benchmarks.scrape`);
* ``logs``: Claude Code log ingest of a 1 GB history against ccusage 20.0.24
  (:mod:`benchmarks.log_ingest`, in its own process; needs npm to install ccusage once);
* ``load``: 200 concurrent scrapers and slow clients against the real exporter while it polls
  (:mod:`benchmarks.load`).

Every figure is printed with its reference (the baseline, or the target) and the ratio to it,
and ``ok``/``MISSED`` where there is a target (``info`` where the figure is context). The exit
status is non-zero when a section could not run or the load run saw errors; a missed timing
target is reported, not an error (machines are shared and noisy).

Usage::

    python -m benchmarks                              # everything, full sizes (~10 minutes)
    python -m benchmarks --smoke                      # tiny sizes, under a minute
    python -m benchmarks --only scrape,load --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import load, log_ingest, scrape

SECTIONS = ("scrape", "poll", "memory", "logs", "load")
REPO = Path(__file__).resolve().parent.parent
LOG_SIZE_FULL = "1GB"
LOG_SIZE_SMOKE = "5MB"


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    value: str
    #: What the figure is compared with: a baseline's figure, or empty.
    reference: str
    #: value / reference, or value / target when there is no baseline; None for context.
    ratio: float | None
    #: The bar, e.g. "≤ 0.050"; empty for context figures.
    target: str
    #: ok, MISSED, info, skipped or FAILED.
    verdict: str


def verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


def info(
    section: str, figure: str, value: str, reference: str = "", ratio: float | None = None
) -> Row:
    """A figure given as context (no target)."""
    return Row(section, figure, value, reference, ratio, "", "info")


def check(
    section: str,
    figure: str,
    value: str,
    met: bool,
    target: str,
    reference: str = "",
    ratio: float | None = None,
) -> Row:
    """A figure with a target: ok or MISSED."""
    return Row(section, figure, value, reference, ratio, target, verdict(met))


def ms(timing: dict[str, float]) -> str:
    return f"{timing['p50_ms']:.3f} / {timing['p99_ms']:.3f} ms"


# --------------------------------------------------------------------------- rows per section


def scrape_rows(result: dict[str, Any]) -> list[Row]:
    rows = []
    sizes = result["sizes"]
    largest = sizes[-1]["series"]
    bar = scrape.TARGET_SCRAPE_RATIO
    for size in sizes:
        n = size["series"]
        rows.append(info("scrape", f"{n} series: render once", f"{size['render_once_ms']:.1f} ms"))
        rows.append(info("scrape", f"{n} series: generate_latest p50/p99", ms(size["baseline"])))
        for kind, label, baseline in (
            ("asgi", "ASGI", "baseline"),
            ("asgi_gzip", "ASGI gzip", "baseline"),
            ("http", "HTTP", "baseline_http"),
            ("http_gzip", "HTTP gzip", "baseline_http_gzip"),
        ):
            reference = size[baseline]["p50_ms"]
            ratio = size[kind]["p50_ms"] / reference
            name = {
                "baseline": "generate_latest",
                "baseline_http": "prometheus_client",
                "baseline_http_gzip": "prometheus_client gzip",
            }[baseline]
            args = ("scrape", f"{n} series: {label} p50/p99", ms(size[kind]))
            ref = f"{name} {reference:.3f} ms"
            if n == largest:
                rows.append(check(*args, ratio <= bar, f"≤ {bar:.3f}", ref, ratio))
            else:
                rows.append(info(*args, ref, ratio))
    lo, hi = result["scaling_between"]
    for kind, scaling in result["scaling"].items():
        args = ("scrape", f"scrape({hi})/scrape({lo}) {kind}", f"{scaling:.2f}")
        if kind == "baseline":
            rows.append(info(*args))
        else:
            bound = scrape.TARGET_SCALING
            rows.append(check(*args, scaling <= bound, f"≤ {bound:g}", "", scaling / bound))
    return rows


def poll_rows(result: dict[str, Any]) -> list[Row]:
    chains = result["sequential_chain_s"]
    slowest = result["slowest_chain_provider"]
    ratio, bound = result["ratio"], scrape.TARGET_POLL_RATIO
    rows = [
        check(
            "poll",
            f"round of {result['accounts']} accounts, {result['latency_ms']:.0f} ms/request",
            f"{result['round_wall_s']:.2f} s",
            ratio <= bound,
            f"≤ {bound:g}",
            f"slowest chain ({slowest}) {chains[slowest]:.2f} s",
            ratio,
        ),
        info("poll", "requests per round", str(result["requests_per_round"])),
        info(
            "poll",
            "poller CPU per account per round",
            f"{result['poller_cpu_ms_per_account']:.1f} ms",
            f"whole process incl. simulator {result['process_cpu_ms_per_account']:.1f} ms",
        ),
    ]
    for provider, seconds in chains.items():
        rows.append(info("poll", f"sequential chain, one {provider} account", f"{seconds:.2f} s"))
    return rows


def memory_rows(result: dict[str, Any]) -> list[Row]:
    ours, base = result["ours"], result["baseline"]
    rss, bound = ours["rss_mb"], scrape.TARGET_RSS_MB
    return [
        check(
            "memory",
            f"RSS holding {result['series']} series",
            f"{rss:.1f} MB",
            rss <= bound,
            f"≤ {bound:.0f} MB",
            f"prometheus_client registry {base['rss_mb']:.1f} MB",
            rss / base["rss_mb"],
        ),
        info(
            "memory",
            "peak RSS while building it",
            f"{ours['peak_rss_mb']:.1f} MB",
            f"prometheus_client {base['peak_rss_mb']:.1f} MB",
            ours["peak_rss_mb"] / base["peak_rss_mb"],
        ),
        info("memory", "RSS of the exporter without data", f"{result['empty']['rss_mb']:.1f} MB"),
    ]


def logs_rows(report: dict[str, Any]) -> list[Row]:
    median = statistics.median
    corpus = report["corpus"]
    megabytes = corpus["bytes"] / 1e6
    ours = median(report["ours_cold_ingest_s"])
    theirs = median(report["ccusage_cold_wall_s"])
    launch = median(report["ours_cold_since_launch_s"])
    idle = report["idle_poll_ms"]["median"]
    appended = report["append_1mb_poll_ms"]["median"]
    tree = max(report["ours_tree_peak_rss_mb"])
    ccusage = f"ccusage {log_ingest.CCUSAGE_VERSION}"
    poll_bound, rss_bound = log_ingest.POLL_TARGET_MS, log_ingest.RSS_TARGET_MB
    return [
        info("logs", "corpus", f"{megabytes:.0f} MB in {corpus['files']} files"),
        check(
            "logs",
            f"cold ingest (first poll), median of {len(report['ours_cold_ingest_s'])}",
            f"{ours:.2f} s",
            ours <= theirs,
            "≤ 1.0",
            f"{ccusage} {theirs:.2f} s",
            ours / theirs,
        ),
        info(
            "logs",
            "cold, incl. process start and imports",
            f"{launch:.2f} s",
            f"{ccusage} {theirs:.2f} s",
            launch / theirs,
        ),
        info(
            "logs",
            "history read per second, cold",
            f"{megabytes / ours:.0f} MB/s",
            f"{ccusage} {megabytes / theirs:.0f} MB/s",
            theirs / ours,
        ),
        check(
            "logs",
            "poll with nothing new, median",
            f"{idle:.1f} ms",
            idle <= poll_bound,
            f"≤ {poll_bound:.0f} ms",
            "",
            idle / poll_bound,
        ),
        check(
            "logs",
            "poll after 1 MB appended, median",
            f"{appended:.1f} ms",
            appended <= poll_bound,
            f"≤ {poll_bound:.0f} ms",
            "",
            appended / poll_bound,
        ),
        check(
            "logs",
            "peak RSS, process tree",
            f"{tree:.0f} MB",
            tree <= rss_bound,
            f"≤ {rss_bound:.0f} MB",
            f"{ccusage} {max(report['ccusage_maxrss_mb']):.0f} MB",
            tree / rss_bound,
        ),
    ]


def load_rows(result: dict[str, Any]) -> list[Row]:
    exporter, unloaded = result["exporter"], result["unloaded"]
    rows = [
        info(
            "load",
            "exporter under load",
            f"{exporter['accounts']} accounts polled every {exporter['poll_interval_s']:g} s,"
            f" {exporter['series']} series, {exporter['gzip_bytes']} B gzip",
        ),
        info("load", "unloaded: 1 scraper p50/p99", ms(unloaded)),
    ]
    unloaded_poll = unloaded["poll_duration_ms"]["p50"]
    for phase in result["phases"].values():
        label = f"{phase['scrapers']} scrapers"
        slow = phase.get("slow_clients")
        if slow:
            label += f" + {sum(c['count'] for c in slow.values())} slow"
        errors, failures = phase["errors"], phase["poll_failures"]
        poll_p50 = phase["poll_duration_ms"]["p50"]
        rows += [
            info("load", f"{label}: requests in {phase['seconds']:.0f} s", str(phase["requests"])),
            check("load", f"{label}: errors", str(errors), errors == 0, "= 0"),
            info(
                "load",
                f"{label}: latency p50/p99/max",
                f"{phase['p50_ms']:.1f} / {phase['p99_ms']:.1f} / {phase['max_ms']:.1f} ms",
                f"unloaded p50 {unloaded['p50_ms']:.2f} ms",
                phase["p50_ms"] / unloaded["p50_ms"],
            ),
            info(
                "load",
                f"{label}: throughput",
                f"{phase['throughput_rps']:.0f} scrapes/s",
                f"exporter CPU {phase['exporter_cpu_ms_per_scrape']:.2f} ms/scrape,"
                f" {phase['exporter_cpu_share']:.0%} of a core"
                f" (client {phase['client_cpu_share']:.0%},"
                f" simulator {phase['simulator_cpu_share']:.0%})",
            ),
            info(
                "load",
                f"{label}: source polls completed",
                str(phase["polls_completed"]),
                f"{phase['polls_due']:.0f} at the unloaded rate",
                phase["polls_ratio"],
            ),
            info(
                "load",
                f"{label}: source poll duration p50/max",
                f"{poll_p50:.0f} / {phase['poll_duration_ms']['max']:.0f} ms",
                f"unloaded p50 {unloaded_poll:.0f} ms",
                poll_p50 / unloaded_poll if unloaded_poll else None,
            ),
            check("load", f"{label}: failed polls", str(failures), failures == 0, "= 0"),
        ]
        if slow:
            kinds = ", ".join(f"{kind} {c['count']}" for kind, c in slow.items())
            read = sum(c["bytes_received"] for c in slow.values())
            closed = sum(c["closed_by_server"] for c in slow.values())
            rows.append(
                info(
                    "load",
                    "slow clients",
                    f"{kinds}; {read} B read in all, {closed} closed by the exporter",
                )
            )
    scrapes, polls = result["slow_client_p50_ratio"], result["slow_client_poll_duration_ratio"]
    scrape_bound, poll_bound = load.TARGET_SLOW_CLIENT_RATIO, load.TARGET_SLOW_CLIENT_POLL_RATIO
    rss = result["rss_mb"]
    growth, growth_bound = rss["growth_mid_to_end"], load.TARGET_RSS_GROWTH_MB
    rows += [
        check(
            "load",
            "scrape p50 with slow clients / without",
            f"{scrapes:.2f}",
            scrapes <= scrape_bound,
            f"≤ {scrape_bound:g}",
            "",
            scrapes,
        ),
        check(
            "load",
            "poll duration p50 with slow clients / without",
            f"{polls:.2f}",
            0 < polls <= poll_bound,
            f"≤ {poll_bound:g}",
            "",
            polls,
        ),
        info(
            "load",
            "exporter RSS start / mid / end (peak)",
            f"{rss['start']:.1f} / {rss['mid']:.1f} / {rss['end']:.1f} ({rss['peak']:.1f}) MB",
        ),
        check(
            "load",
            "RSS growth over the second half",
            f"{growth:+.1f} MB",
            growth <= growth_bound,
            f"≤ {growth_bound:g} MB",
            "",
            growth / growth_bound,
        ),
    ]
    return rows


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "scrape": scrape_rows,
    "poll": poll_rows,
    "memory": memory_rows,
    "logs": logs_rows,
    "load": load_rows,
}


# --------------------------------------------------------------------------- running sections


class Skipped(Exception):
    """A section that cannot run on this machine (and need not)."""


def run_logs(smoke: bool, size: str | None, corpus_dir: Path | None) -> dict[str, Any]:
    """log_ingest.py in its own process (it starts ccusage and fresh reader processes)."""
    launcher = log_ingest.CCUSAGE_PREFIX / "node_modules" / ".bin" / "ccusage"
    if not launcher.exists() and shutil.which("npm") is None:
        missing = f"npm is not installed: cannot install ccusage@{log_ingest.CCUSAGE_VERSION}"
        if smoke and os.environ.get("CI") == "true":
            raise RuntimeError(f"{missing} (CI=true: the log ingest comparison must run)")
        raise Skipped(f"{missing}; the log ingest comparison was skipped")
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as out:
        report_path = Path(out) / "log_ingest.json"
        command = [sys.executable, str(REPO / "benchmarks" / "log_ingest.py")]
        command += ["--size", size or (LOG_SIZE_SMOKE if smoke else LOG_SIZE_FULL)]
        command += ["--json", str(report_path)]
        if smoke:
            command += ["--repeat", "1", "--polls", "5", "--appends", "1"]
        if corpus_dir is not None:
            command += ["--dir", str(corpus_dir)]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(
                f"log_ingest.py exited {done.returncode}:\n{done.stdout[-2000:]}"
                f"\n{done.stderr[-3000:]}"
            )
        report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return report


def run_section(name: str, args: argparse.Namespace) -> dict[str, Any]:
    sizes = scrape.SMOKE if args.smoke else scrape.FULL
    if name == "scrape":
        with scrape.without_created_series():
            return asyncio.run(scrape.scrape_section(sizes))
    if name == "poll":
        return asyncio.run(scrape.poll_section(sizes))
    if name == "memory":
        return scrape.memory_section(sizes)
    if name == "logs":
        return run_logs(args.smoke, args.log_size, args.log_dir)
    if name == "load":
        return asyncio.run(load.run(load.SMOKE if args.smoke else load.FULL))
    raise ValueError(name)


def machine() -> dict[str, Any]:
    info = scrape.machine()
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            info["memory_gb"] = round(int(meminfo.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------- report


def rows_of(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name in results["sections_run"]:
        if name in results["sections"]:
            rows += ROWS[name](results["sections"][name])
        elif name in results["skipped"]:
            rows.append(Row(name, "skipped", results["skipped"][name], "", None, "", "skipped"))
        else:
            failure = results["failed"].get(name, "").strip().splitlines()
            rows.append(
                Row(name, "could not run", failure[-1] if failure else "", "", None, "", "FAILED")
            )
    return rows


def format_table(results: dict[str, Any], rows: Sequence[Row]) -> str:
    m = results["machine"]
    lines = [
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m.get('memory_gb', '?')} GB,"
        f" Python {m['python']}; mode: {results['mode']}"
    ]
    if results["mode"] == "smoke":
        lines.append(
            "smoke sizes are too small for the targets to mean anything: verdicts are shown"
            " so that every code path runs"
        )
    header = ("section", "figure", "value", "reference", "ratio", "target", "verdict")
    cells = [header] + [
        (
            r.section,
            r.figure,
            r.value,
            r.reference,
            "" if r.ratio is None else f"{r.ratio:.4g}",
            r.target,
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    for index, cell in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(cell, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows: Sequence[Row]) -> str:
    """The table as one Markdown table per section (what docs/performance.md shows)."""
    lines: list[str] = []
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            lines += ["", f"**{section}**", ""]
            lines += ["| figure | value | reference | ratio | target | verdict |"]
            lines += ["|---|---|---|---|---|---|"]
        ratio = "" if r.ratio is None else f"{r.ratio:.4g}"
        cells = (r.figure, r.value, r.reference, ratio, r.target, r.verdict)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines[1:]) + "\n"


def exit_status(results: dict[str, Any]) -> int:
    """1 when a section could not run or the load run saw errors; missed timings are reported."""
    if results["failed"]:
        return 1
    loaded = results["sections"].get("load")
    if loaded is not None and load.failed_hard(loaded):
        return 1
    return 0


def parse_only(text: str) -> tuple[str, ...]:
    chosen = {s.strip() for s in text.split(",") if s.strip()}
    unknown = sorted(chosen - set(SECTIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none)'}; choose from {','.join(SECTIONS)}"
        )
    return tuple(s for s in SECTIONS if s in chosen)  # in the documented order


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds each")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results as JSON")
    parser.add_argument(
        "--only",
        type=parse_only,
        default=SECTIONS,
        metavar="SECTIONS",
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--markdown", metavar="PATH", type=Path, help="also write the table as Markdown"
    )
    parser.add_argument(
        "--log-size",
        metavar="SIZE",
        help=f"log corpus size (default {LOG_SIZE_FULL}, smoke {LOG_SIZE_SMOKE})",
    )
    parser.add_argument(
        "--log-dir", metavar="DIR", type=Path, help="log corpus directory (reused when it matches)"
    )
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "machine": machine(),
        "mode": "smoke" if args.smoke else "full",
        "sections_run": list(args.only),
        "sections": {},
        "skipped": {},
        "failed": {},
    }
    for index, name in enumerate(args.only, 1):
        print(f"[{index}/{len(args.only)}] {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            results["sections"][name] = run_section(name, args)
        except Skipped as exc:
            results["skipped"][name] = str(exc)
            print(f"    skipped: {exc}", file=sys.stderr, flush=True)
            continue
        except Exception:
            results["failed"][name] = traceback.format_exc()
            print(results["failed"][name], file=sys.stderr, flush=True)
            continue
        took = time.perf_counter() - started
        print(f"    done in {took:.0f} s", file=sys.stderr, flush=True)

    rows = rows_of(results)
    results["rows"] = [asdict(r) for r in rows]
    print(format_table(results, rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(format_markdown(rows), encoding="utf-8")
    return exit_status(results)


if __name__ == "__main__":
    sys.exit(main())
