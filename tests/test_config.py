"""Configuration loading: interpolation, *_file secrets, env discovery and exact error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import load, parse_duration
from exporter.errors import ConfigError
from exporter.providers import PROVIDERS

SECRET = "sk-admin-config-test-QQsecretvalue987654"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text)
    return path


def test_full_shape_loads(tmp_path: Path) -> None:
    (tmp_path / "anthropic_admin").write_text(SECRET + "\n")
    path = write(
        tmp_path,
        """
poll_interval: 5m
accounts:
  - provider: openai
    name: prod
    api_key: ${OPENAI_ADMIN_KEY}
    base_url: https://api.openai.com
    poll_interval: 10m
    group_by: [project, api_key, model]
  - provider: anthropic
    api_key_file: anthropic_admin
budgets: []
""",
    )
    config = load(path, {"OPENAI_ADMIN_KEY": "sk-admin-from-env"})
    openai, anthropic = config.accounts
    assert openai.account == "prod" and openai.secret == "sk-admin-from-env"
    assert config.poll_interval_of(openai) == 600.0
    assert openai.group_by == ("project", "api_key", "model")
    assert anthropic.account == "anthropic" and anthropic.secret == SECRET
    assert config.poll_interval_of(anthropic) == 300.0
    assert config.stale_after_of(anthropic) == 900.0
    assert SECRET not in repr(config) and "sk-admin-from-env" not in repr(config)


def test_env_overrides_top_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_EXPORTER_POLL_INTERVAL", "2m")
    config = load(write(tmp_path, "poll_interval: 5m\naccounts: []\n"), {})
    assert config.poll_interval == 120.0


def test_discovery_from_environment(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(SECRET)
    config = load(
        None, {"OPENAI_ADMIN_KEY": "sk-admin-x", "ANTHROPIC_ADMIN_KEY_FILE": str(tmp_path / "key")}
    )
    assert [(a.provider, a.secret) for a in config.accounts] == [
        ("openai", "sk-admin-x"),
        ("anthropic", SECRET),
    ]
    assert load(None, {}).accounts == ()


def test_dollar_escape(tmp_path: Path) -> None:
    config = load(write(tmp_path, "accounts:\n  - provider: openai\n    api_key: a$$b\n"), {})
    assert config.accounts[0].secret == "a$b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "acounts: []\n",
            "acounts: unknown key; did you mean 'accounts'?",
        ),
        (
            "accounts:\n  - provider: openai\n    api_kye: x\n",
            "accounts[0].api_kye: unknown key; did you mean 'api_key'?",
        ),
        (
            "accounts:\n  - provider: opneai\n",
            f"accounts[0].provider: got 'opneai'; expected one of: {', '.join(sorted(PROVIDERS))}; "
            "did you mean 'openai'?",
        ),
        (
            "accounts:\n  - name: x\n",
            "accounts[0].provider: required field is missing",
        ),
        (
            "poll_interval: soon\n",
            "poll_interval: got 'soon'; expected a duration such as 30s, 5m or 1h",
        ),
        (
            "accounts:\n  - provider: openai\n    group_by: [project, team]\n",
            "accounts[0].group_by[1]: got 'team'; Input should be 'project', 'api_key', "
            "'model' or 'line_item'",
        ),
        (
            "accounts:\n  - provider: openai\n    sources: [costs, usage_chat]\n",
            "accounts[0]: sources: unknown source 'usage_chat' for provider openai",
        ),
        (
            "accounts:\n  - provider: openai\n    name: 'my prod'\n",
            "accounts[0].name: got 'my prod'; expected letters, digits",
        ),
        (
            "accounts:\n  - provider: openai\n  - provider: openai\n",
            "two openai accounts are named 'openai'; give each a distinct name",
        ),
        (
            "accounts:\n  - provider: openai\n    base_url: api.openai.com\n",
            "accounts[0].base_url: got 'api.openai.com'; expected an http:// or https:// URL",
        ),
        (
            "budgets:\n  - name: team\n    limit_usd: -5\n",
            "budgets[0].limit_usd: got -5; Input should be greater than 0",
        ),
        (
            "budgets:\n  - name: team\n    limit_usd: 5\n    match: {team: x}\n",
            "budgets[0].match.team: unknown key; expected one of: account, api_key, model, "
            "project, provider",
        ),
        (
            "budgets:\n  - name: team\n    limit_usd: 5\n    include: bill\n",
            "budgets[0].include: got 'bill'; Input should be 'billed', 'estimated' or "
            "'billed_or_estimated'",
        ),
        (
            "accounts:\n  - provider: openai\n    options: {colour: blue}\n",
            "accounts[0]: options.colour: unknown key; expected: none",
        ),
        (
            "subscriptions:\n  - {name: cursor, provider: cursor, monthly_usd: 20}\n"
            "  - {name: cursor, provider: cursor, monthly_usd: 40}\n",
            "subscriptions: duplicate name(s) cursor/cursor",
        ),
        (
            "subscriptions:\n  - {name: cursor, provider: cursor, monthly_usd: -1}\n",
            "subscriptions[0].monthly_usd: got -1; Input should be greater than or equal to 0",
        ),
        (
            "pricing:\n  prices:\n    - provider: openai\n      model: ft:x\n"
            "      usd_per_million_tokens: {input: 1}\n",
            "pricing.prices[0].usd_per_million_tokens.output: required field is missing",
        ),
        ("- a\n- b\n", "expected a mapping at the top level, got a list"),
        ("accounts: [\n", "at line 2, column 1"),
        (
            "accounts:\n  - provider: openai\n    api_key: ${NOPE_NOT_SET}\n",
            "accounts[0].api_key: environment variable NOPE_NOT_SET is not set",
        ),
        (
            "accounts:\n  - provider: openai\n    api_key_file: /nonexistent/key\n",
            "accounts[0].api_key_file: cannot read /nonexistent/key",
        ),
    ],
)
def test_bad_config_messages(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text), {})
    assert message in str(info.value)


def test_secret_never_in_error(tmp_path: Path) -> None:
    text = (
        f"accounts:\n  - provider: openai\n    api_key: {SECRET}\n"
        "    api_key_file: /x\n    bogus: 1\n"
    )
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text), {})
    message = str(info.value)
    assert "api_key or api_key_file, not both" in message or "bogus" in message
    assert SECRET[:12] not in message
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, "accounts:\n  - provider: openai\n    api_key: [1, 2]\n"), {})
    assert "accounts[0].api_key" in str(info.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("1d", 86400.0)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "5", "5 m", "-1s", 0, True, "1y"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)
