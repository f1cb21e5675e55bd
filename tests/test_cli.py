"""The exporter as users run it: the console script against a loopback server speaking the
documented OpenAI and Anthropic shapes (no HTTP mocks), in --once, --check and serve modes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fixture_server import ANTHROPIC_KEY, OPENAI_KEY, expected_totals, make_app

EXE = shutil.which("llm-cost-exporter") or ""
PROVIDER_DATA = re.compile(
    r"^llm_(cost|tokens|requests|images|speech|transcription|code|web|file|"
    r"vector|project|api_key)"
)


def command(*args: str) -> list[str]:
    base = [EXE] if EXE else [sys.executable, "-m", "exporter"]
    return [*base, *args]


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = make_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def write_config(
    tmp_path: Path, base: str, *, openai_key: str = OPENAI_KEY, extra: str = ""
) -> Path:
    (tmp_path / "anthropic_key").write_text(ANTHROPIC_KEY + "\n")
    path = tmp_path / "config.yml"
    path.write_text(f"""
poll_interval: 5m
accounts:
  - provider: openai
    name: prod
    api_key: ${{TEST_OPENAI_KEY}}
    base_url: {base}
  - provider: anthropic
    api_key_file: anthropic_key
    base_url: {base}
budgets:
  - name: everything
    limit_usd: 50
{extra}""")
    os.environ["TEST_OPENAI_KEY"] = openai_key
    return path


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *command(*args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def totals(rows: list[dict[str, Any]], provider: str) -> dict[str, Any]:
    cost = sum(
        r["value"]
        for r in rows
        if r["name"] == "llm_cost_usd_total" and r["labels"]["provider"] == provider
    )
    tokens: dict[str, float] = {}
    for r in rows:
        if r["name"] == "llm_tokens_total" and r["labels"]["provider"] == provider:
            t = r["labels"]["token_type"]
            tokens[t] = tokens.get(t, 0) + r["value"]
    return {"cost": cost, "tokens": tokens}


async def test_once_equals_fixture_sums(server: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, server)
    code, out, err = await run("--once", "--format", "json", "--config.file", str(config))
    assert code == 0, err
    rows = json.loads(out)
    want = expected_totals()
    for provider in ("openai", "anthropic"):
        got = totals(rows, provider)
        assert Decimal(str(round(got["cost"], 6))) == want[provider]["cost"].quantize(
            Decimal("0.000001")
        ), provider
        assert got["tokens"] == {k: v for k, v in want[provider]["tokens"].items() if v}, provider
    spend = [r["value"] for r in rows if r["name"] == "llm_budget_spend_usd"]
    assert spend == [pytest.approx(float(want["openai"]["cost"] + want["anthropic"]["cost"]))]
    names = {r["labels"].get("project_name") for r in rows if r["name"] == "llm_project_info"}
    assert "Default workspace" in names and len(names) >= 4
    assert all(r["value"] == 1 for r in rows if r["name"] == "llm_source_up")

    # A restart mid-month (a new process) gives the same provider data, byte for byte.
    code, again, _ = await run("--once", "--format", "prometheus", "--config.file", str(config))
    code2, again2, _ = await run("--once", "--format", "prometheus", "--config.file", str(config))
    assert code == code2 == 0
    data = [line for line in again.splitlines() if PROVIDER_DATA.match(line)]
    assert data and data == [line for line in again2.splitlines() if PROVIDER_DATA.match(line)]


async def test_once_formats_and_promtool(server: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, server)
    code, csv_out, _ = await run("--once", "--format", "csv", "--config.file", str(config))
    assert code == 0
    header, *rows = csv_out.splitlines()
    assert header.startswith("name,provider,account,project")
    assert any(r.startswith("llm_cost_usd_total,openai,prod,") for r in rows)
    code, text, _ = await run("--once", "--config.file", str(config))
    assert code == 0 and "# TYPE llm_cost_usd_total counter" in text
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing")
        pytest.skip("promtool not installed")
    lint = subprocess.run(
        [promtool, "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert lint.returncode == 0, lint.stderr.decode() + lint.stdout.decode()


async def test_once_fails_when_a_source_fails_and_others_survive(
    server: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, server, openai_key="sk-admin-WRONGwrongWRONG-000")
    code, out, err = await run("--once", "--format", "json", "--config.file", str(config))
    assert code == 1
    rows = json.loads(out)
    up = {
        (r["labels"]["provider"], r["labels"]["source"]): r["value"]
        for r in rows
        if r["name"] == "llm_source_up"
    }
    assert up[("openai", "costs")] == 0 and up[("anthropic", "cost_report")] == 1
    assert totals(rows, "anthropic")["cost"] > 0 and totals(rows, "openai")["cost"] == 0
    failures = [
        r
        for r in rows
        if r["name"] == "llm_upstream_request_failures_total"
        and r["labels"]["provider"] == "openai"
    ]
    assert failures and {r["labels"]["reason"] for r in failures} == {"auth"}
    assert all(r["value"] == 1 for r in failures)  # 401 is never retried
    assert "HTTP 401" in err and "WRONGwrong" not in err


async def test_check(server: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, server)
    code, out, _ = await run("--check", "--config.file", str(config))
    assert code == 0 and out.splitlines() == ["openai/prod: ok", "anthropic/anthropic: ok"]
    config = write_config(tmp_path, server, openai_key="sk-admin-WRONGwrongWRONG-000")
    code, out, _ = await run("--check", "--config.file", str(config))
    assert code == 1 and out.splitlines()[0].startswith("openai/prod: auth failed")
    config = write_config(tmp_path, "http://127.0.0.1:9")
    code, out, _ = await run("--check", "--config.file", str(config))
    assert code == 1 and all(": unreachable" in line for line in out.splitlines())
    config = write_config(tmp_path, server, openai_key="")
    code, out, _ = await run("--check", "--config.file", str(config))
    assert code == 1 and out.splitlines()[0].startswith("openai/prod: missing key")


async def test_check_uses_the_accounts_own_options(tmp_path: Path) -> None:
    """Sources that read their own files are checked with the account's options (paths)."""
    creds = tmp_path / "expired.json"
    creds.write_text(
        json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-EXPIREDtokenFAKE-1234",
                                      "expiresAt": 1000, "scopes": ["user:profile"]}})
    )  # fmt: skip
    config = tmp_path / "check.yml"
    config.write_text(
        "accounts:\n"
        "  - provider: claude_subscription\n"
        f"    options: {{credentials_file: {creds}}}\n"
        "  - provider: codex\n"
        f"    options: {{paths: [{tmp_path}]}}\n"
    )
    code, out, err = await run("--check", "--config.file", str(config))
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("claude_subscription/claude: auth failed") or lines[0].startswith(
        "claude_subscription/claude: error"
    )
    assert "credentials expired" in lines[0]
    assert lines[1] == "codex/codex: ok"
    assert "EXPIREDtokenFAKE" not in out + err
    assert json.loads(creds.read_text())["claudeAiOauth"]["expiresAt"] == 1000  # never written


async def test_nothing_configured_says_what_to_set(tmp_path: Path) -> None:
    env = {k: "" for k in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "LLM_EXPORTER_CONFIG")}
    code, _, err = await run("--once", env=env)
    assert code == 2
    assert "OPENAI_ADMIN_KEY" in err and "ANTHROPIC_ADMIN_KEY" in err and "--config.file" in err
    bad = tmp_path / "bad.yml"
    bad.write_text("accounts:\n  - provider: openai\n    api_kye: x\n")
    code, _, err = await run("--once", "--config.file", str(bad))
    assert code == 2 and "accounts[0].api_kye: unknown key; did you mean 'api_key'?" in err


async def wait_ready(http: aiohttp.ClientSession, base: str, deadline: float = 15.0) -> None:
    """Poll ``/-/ready`` until it answers 200 or the deadline passes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while loop.time() < end:
        try:
            async with http.get(f"{base}/-/ready") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    pytest.fail(f"exporter at {base} never became ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_endpoints_and_no_secret_leaks(server: str, tmp_path: Path) -> None:
    """The real ASGI app with its lifespan: /metrics, /, /-/healthy, /-/ready; then every
    output (bodies, debug logs, --once in all formats, --check) is searched for the keys."""
    wrong = "sk-admin-FAKEleakCanaryWRONG-91c4e"
    config = write_config(
        tmp_path,
        server,
        extra="""  - name: nomatch
    limit_usd: 1
    match: {provider: nobody}
""",
    )
    port = free_port()
    log_file = (tmp_path / "serve.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *command(
            "--config.file",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--log.level",
            "debug",
        ),
        stdout=log_file,
        stderr=log_file,
    )
    outputs: list[str] = []
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(http, base)
            async with http.get(f"{base}/metrics", allow_redirects=False) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                metrics = await resp.text()
            async with http.get(
                f"{base}/metrics", headers={"Accept": "application/openmetrics-text"}
            ) as resp:
                assert "openmetrics" in resp.headers["Content-Type"]
                om = await resp.text()
                assert om.endswith("# EOF\n") and "llm_cost_usd_created{" in om
            async with http.get(f"{base}/metrics", headers={"Accept-Encoding": "gzip"}) as resp:
                assert resp.headers.get("Content-Encoding") == "gzip"
                assert await resp.text() == metrics
            async with http.get(f"{base}/") as resp:
                landing = await resp.text()
                assert "usage_completions" in landing and "nomatch" in landing
            async with http.get(f"{base}/-/healthy") as resp:
                assert resp.status == 200
            outputs += [metrics, om, landing]
        assert 'llm_source_up{account="prod",provider="openai",source="costs"} 1.0' in metrics
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)
        log_file.close()
        outputs.append((tmp_path / "serve.log").read_text())
    assert "polled openai/prod costs" in outputs[-1]  # debug logging was on
    for fmt in ("prometheus", "json", "csv"):
        outputs += list(
            await run(
                "--once", "--format", fmt, "--config.file", str(config), "--log.level", "debug"
            )
        )[1:]
    outputs += list(await run("--check", "--config.file", str(config)))[1:]
    config = write_config(tmp_path, server, openai_key=wrong)
    outputs += list(await run("--once", "--config.file", str(config), "--log.level", "debug"))[1:]
    outputs += list(await run("--check", "--config.file", str(config)))[1:]
    everything = "\n".join(outputs)
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, wrong):
        for i in range(len(secret) - 7):
            assert secret[i : i + 8] not in everything or secret[i : i + 8] in (
                "sk-admin",
                "k-admin-",
                "sk-ant-a",
                "k-ant-ad",
                "-ant-adm",
                "ant-admi",
                "nt-admin",
                "t-admin0",
                "-admin01",
            ), f"secret fragment {secret[i : i + 8]!r} leaked"


async def test_demo_serves_simulated_data_marked_as_demo(tmp_path: Path) -> None:
    """`--demo` needs no key: the simulator runs in-process and every account is `demo`."""
    port = free_port()
    env = {**os.environ, "OPENAI_ADMIN_KEY": "", "ANTHROPIC_ADMIN_KEY": ""}
    env.pop("LLM_EXPORTER_CONFIG", None)
    log_file = (tmp_path / "demo.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *command("--demo", "--web.listen-address", f"127.0.0.1:{port}"),
        stdout=log_file,
        stderr=log_file,
        env=env,
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(http, base)
            async with http.get(f"{base}/metrics") as resp:
                body = await resp.text()
            async with http.get(f"{base}/") as resp:
                assert "Demo mode" in await resp.text()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)
        log_file.close()
    costs = [line for line in body.splitlines() if line.startswith("llm_cost_usd_total{")]
    assert costs and all('account="demo"' in line for line in costs)
    providers = {m.group(1) for line in costs for m in [re.search(r'provider="(\w+)"', line)] if m}
    # Every billed source is simulated.
    assert providers == {"openai", "anthropic", "openrouter", "xai", "fireworks"}
    assert 'llm_source_up{account="demo",provider="openai",source="costs"} 1.0' in body
    # Every other demo account is marked too, and nothing runs against a real home directory.
    accounts = set(re.findall(r'account="([^"]+)"', body))
    assert accounts and all(a.startswith("demo") for a in accounts), accounts
