"""Fuzzing the configuration loader (issue 8).

Any YAML text (arbitrary text, YAML-token soup, and valid configurations mutated both as data
and as text) either loads or fails with :class:`ConfigError` whose message is readable: it names
the file or a field, never shows a raw exception type, never echoes a credential. A
configuration that loads has finite, positive durations.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.config import Config, load, parse_duration
from exporter.errors import ConfigError
from tests.test_fuzz_parsers import examples

SECRET = "sk-admin-fuzz-QQsecretvalue0123456789"
FILE_SECRET = "sk-ant-admin01-fuzz-ZZfilesecret9876543210"
ENV_SECRET = "gsk_fuzz_envsecret_AAbbCCdd0011223344"
SECRETS = (SECRET, FILE_SECRET, ENV_SECRET)
ENVIRON = {"GROQ_API_KEY": ENV_SECRET, "HOME_DIR": "/home/dev"}

#: A configuration using every section, with credentials inline, from a file and from ${VAR}.
VALID: dict[str, Any] = {
    "poll_interval": "5m",
    "stale_polls": 3,
    "accounts": [
        {
            "provider": "openai",
            "name": "prod",
            "api_key": SECRET,
            "base_url": "https://api.openai.com",
            "poll_interval": "10m",
            "timeout": "30s",
            "group_by": ["project", "api_key", "model"],
            "sources": ["costs", "usage_completions"],
            "max_series": 500,
        },
        {"provider": "anthropic", "api_key_file": "anthropic_admin"},
        {
            "provider": "groq",
            "api_key": "${GROQ_API_KEY}",
            "options": {"step": 300, "tokens_in_query": "sum(x)"},
        },
        {"provider": "xai", "api_key": SECRET + "-xai", "options": {"team_id": "team-1"}},
        {"provider": "codex", "options": {"paths": ["${HOME_DIR}/.codex"]}},
        {"provider": "claude_subscription", "stale_after": "1h"},
    ],
    "budgets": [
        {"name": "team", "limit_usd": "100.50", "match": {"provider": "openai", "project": ["a"]}},
        {"name": "all", "limit_usd": 1000, "include": "billed"},
    ],
    "subscriptions": [{"name": "cursor", "provider": "cursor", "monthly_usd": 20, "seats": 2}],
    "pricing": {
        "prices": [
            {
                "provider": "openai",
                "model": "ft:gpt-4o:acme",
                "usd_per_million_tokens": {"input": 3.75, "output": 15, "cache_read": "1.875"},
            }
        ],
        "export_openrouter_catalog": False,
    },
}

SETTINGS = settings(
    max_examples=examples(150),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Raw exception types and Python internals that must never reach the operator.
RAW_ERRORS = re.compile(
    r"Traceback|\b(Key|Type|Attribute|Index|Value|Recursion|Overflow|Unicode\w*)Error\b"
    r"|<class |object at 0x"
)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz_config")
    (directory / "anthropic_admin").write_text(FILE_SECRET + "\n")
    return directory


def test_valid_config_loads(config_dir: Path) -> None:
    config = load_text(config_dir, yaml.safe_dump(VALID))
    assert config is not None
    assert [a.provider for a in config.accounts][:3] == ["openai", "anthropic", "groq"]
    assert config.accounts[1].secret == FILE_SECRET
    assert config.accounts[2].secret == ENV_SECRET


def load_text(directory: Path, text: str | bytes) -> Config | None:
    """``load`` of ``text``: the config, or None after checking the ConfigError's message."""
    path = directory / "config.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        config = load(path, ENVIRON)
    except ConfigError as error:
        check_message(str(error), path)
        return None
    check_config(config)
    return config


def check_message(message: str, path: Path) -> None:
    assert message.strip(), "empty ConfigError"
    assert not RAW_ERRORS.search(message), message
    for secret in SECRETS:
        assert secret not in message, f"secret echoed: {message}"
    # "<file or field>: what is wrong", or "invalid configuration:" and then one per field.
    first, *rest = message.split("\n")  # not splitlines(): keys may hold \x1e, \x85, ...
    if first == "invalid configuration:":
        assert rest and all(line.startswith("  - ") and ": " in line for line in rest), message
    else:
        assert ": " in first and not first.startswith(": "), message


def check_config(config: Config) -> None:
    durations = [config.poll_interval]
    for account in config.accounts:
        durations += [config.poll_interval_of(account), config.stale_after_of(account)]
        durations.append(account.timeout)
        assert account.provider
    for seconds in durations:
        assert math.isfinite(seconds) and seconds > 0, durations
    # A mutation may copy a credential into a field that is not secret (then shown, as the
    # operator wrote it); secret fields themselves never show theirs.
    assert FILE_SECRET not in repr(config)  # read from api_key_file: only ever private
    for account in config.accounts:
        if account.secret:  # an empty key loads: --check reports it as missing
            assert account.secret not in repr(account.api_key)


# --------------------------------------------------------------------------- strategies

#: Pieces of YAML (and of this config's vocabulary) to build plausible-looking documents.
YAML_PIECES = (
    "accounts:",
    "budgets:",
    "subscriptions:",
    "pricing:",
    "prices:",
    "poll_interval:",
    "stale_polls:",
    "provider: openai",
    "provider: groq",
    "provider: ",
    "api_key: " + SECRET,
    "api_key_file: anthropic_admin",
    "api_key_file: /nonexistent",
    "options:",
    "step: ",
    "name: ",
    "limit_usd:",
    "group_by: [project, model]",
    "sources: [costs]",
    "- ",
    "  ",
    "    ",
    "\n",
    "\t",
    ": ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "&b [*b]",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!binary ",
    "!!timestamp ",
    "!!set ",
    "!!python/object:os.system ",
    "2024-13-01",
    "2024-02-30",
    "2024-01-01 25:00:00",
    ".nan",
    ".inf",
    "-.inf",
    "1.0e400",
    "1" * 400 + "s",
    "0x1F",
    "0o17",
    "1_000",
    "5m",
    "1h30m",
    "-1",
    "0",
    "~",
    "null",
    "yes",
    "'",
    '"',
    '"\\ud800"',
    "|",
    ">",
    "#",
    "---",
    "...",
    "%YAML 1.1",
    "%TAG ! tag:x,2000:",
    "${GROQ_API_KEY}",
    "${NOT_SET}",
    "$$",
    "${",
    "_env_file: x",
    "_cli_parse_args: true",
    "_secrets_dir: 5",
    "__pydantic_self__: 1",
    "1: 2",
    "[1, 2]: 3",
    "\ufeff",
    "\x00",
    "\x85",
    "\u2028",
    "😀",
)
YAML_SOUP = st.lists(st.sampled_from(YAML_PIECES), max_size=30).map("".join)
ARBITRARY_TEXT = st.text(max_size=200)
ARBITRARY_BYTES = st.binary(max_size=200)

KEYS = st.sampled_from(
    sorted({"provider", "api_key", "name", "options", "_env_file", "1", "accounts", "timeout"})
) | st.text(max_size=5)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "",
            "5m",
            "0s",
            "-1s",
            "openai",
            "groq",
            "https://x",
            "${NOT_SET}",
            "${GROQ_API_KEY}",
            "$$",
            "1e400",
            "\ud800",
            SECRET,
        ]
    )
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)

Path_ = tuple[str | int, ...]


def _paths(value: Any, here: Path_ = ()) -> Iterator[Path_]:
    yield here
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*here, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*here, index))


def _get(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


DATA_OPS = st.sampled_from(["replace", "delete", "add", "wrap", "empty", "dup"])


@st.composite
def mutated_config(draw: st.DrawFn) -> Any:
    """VALID with one to four mutations of its data (values, keys, container types)."""
    document: Any = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(document))
        path = paths[draw(st.integers(0, len(paths) - 1))]
        target = _get(document, path)
        op = draw(DATA_OPS)
        if op == "delete" and path:
            del _get(document, path[:-1])[path[-1]]
            continue
        if op == "add" and isinstance(target, dict):
            target[draw(KEYS)] = draw(VALUES)
            continue
        if op == "add" and isinstance(target, list):
            target.append(draw(VALUES))
            continue
        if op == "dup" and isinstance(target, list) and target:
            target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
            continue
        if op == "wrap":
            new: Any = [target]
        elif op == "empty":
            new = type(target)() if isinstance(target, dict | list | str) else None
        else:
            new = draw(VALUES)
        if path:
            _get(document, path[:-1])[path[-1]] = new
        else:
            document = new
    return document


TEXT_OPS = st.sampled_from(
    ["delete", "insert", "replace", "duplicate_line", "indent", "cut", "drop_colon", "open_quote"]
)


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    """The YAML text of VALID (block or flow style) with one to four text edits."""
    text = yaml.safe_dump(VALID, default_flow_style=draw(st.sampled_from([False, None, True])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(TEXT_OPS)
        if op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif op == "insert":
            text = text[:at] + draw(st.sampled_from(YAML_PIECES) | st.text(max_size=3)) + text[at:]
        elif op == "replace":
            text = text[:at] + draw(st.sampled_from(YAML_PIECES)) + text[at + 1 :]
        elif op == "cut":
            text = text[:at]
        elif op in ("drop_colon", "open_quote"):
            # The typos that move a value somewhere else: "api_key sk-..." becomes a key, an
            # unclosed quote swallows the next lines into another field's value.
            colons = [m.end() for m in re.finditer(r": ?", text)]
            if colons:
                end = colons[draw(st.integers(0, len(colons) - 1))]
                start = text.rindex(":", 0, end)
                quote = draw(st.sampled_from(["'", '"']))
                text = (
                    text[:start] + " " + text[end:]
                    if op == "drop_colon"
                    else text[:end] + quote + text[end:]
                )
        else:
            lines = text.splitlines(keepends=True)
            if not lines:
                continue
            index = min(at, len(lines) - 1)
            if op == "duplicate_line":
                lines.insert(index, lines[index])
            else:
                lines[index] = " " * draw(st.integers(1, 3)) + lines[index]
            text = "".join(lines)
    return text


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(text=ARBITRARY_TEXT | YAML_SOUP)
def test_arbitrary_text_loads_or_fails_readably(config_dir: Path, text: str) -> None:
    load_text(config_dir, text)


@settings(SETTINGS, max_examples=examples(50))
@given(raw=ARBITRARY_BYTES)
def test_arbitrary_bytes_load_or_fail_readably(config_dir: Path, raw: bytes) -> None:
    load_text(config_dir, raw)


@SETTINGS
@given(document=mutated_config())
def test_mutated_config_data_loads_or_fails_readably(config_dir: Path, document: Any) -> None:
    load_text(config_dir, yaml.safe_dump(document, allow_unicode=True))


@SETTINGS
@given(text=mutated_text())
def test_mutated_config_text_loads_or_fails_readably(config_dir: Path, text: str) -> None:
    load_text(config_dir, text)


@settings(SETTINGS, max_examples=examples(100))
@given(value=SCALARS | st.sampled_from(["1.0e400s", "nans", "infs", "1" * 400 + "s"]))
def test_durations_are_finite_and_positive_or_rejected(value: Any) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        assert str(error).startswith("expected")
        return
    assert math.isfinite(seconds) and seconds > 0


# --------------------------------------------------------------------------- regressions
# Minimal examples of what the properties above found, as plain tests.


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # ValueError / KeyError / AttributeError raised by PyYAML's constructors
        (
            "x: 2024-13-01\n",
            "not a valid timestamp (quote it to keep it a string) at line 1, column 4",
        ),
        ("a: !!bool x\n", "not a valid bool (quote it to keep it a string) at line 1, column 4"),
        ("!!timestamp \n", "not a valid timestamp"),
        (f"accounts:\n- provider: openai\n  api_key: !!int {SECRET}\n", "not a valid int"),
        # TypeError: keywords must be strings
        ("1: 2\n", "1: unknown key; expected one of: accounts, budgets, poll_interval"),
        # pydantic-settings options taken from the file: TypeError, or silently applied
        ("_env_file: 3\n", "_env_file: unknown key"),
        ("_secrets_dir: /etc\n", "_secrets_dir: unknown key"),
        ("_cli_parse_args: true\n", "_cli_parse_args: unknown key"),
        # loaded as NaN / inf seconds
        ("poll_interval: .nan\n", "poll_interval: got nan; expected a finite duration"),
        ("accounts:\n- provider: openai\n  timeout: .inf\n", "timeout: got inf; expected a finite"),
        ("poll_interval: 1.0e+400\n", "poll_interval: got inf; expected a finite duration"),
        # RecursionError
        ("[" * 5000, "nested too deeply"),
        ("a: &a [*a]\n", "an alias that contains itself"),
        # a newline in a key broke the message (and a log line) in two
        ('accounts:\n- provider: openai\n  "\\n": 1\n', "accounts[0].'\\n': unknown key"),
        ('"a\\nb": ${NOT_SET}\n', "'a\\nb': environment variable NOT_SET is not set"),
        # "<class 'pathlib.Path'>" in the message
        ("accounts:\n- provider: codex\n  options: {paths: [[x]]}\n", "valid path for Path"),
        # the credential became a key, or another field's value, and was echoed
        (
            f"{{accounts: [{{ {SECRET}, provider: openai}}]}}\n",
            "accounts[0].<redacted>: unknown key",
        ),
        (
            f'accounts:\n- provider: openai\n  name: "pr\n  api_key: {SECRET}"\n',
            "got 'pr api_key: <redacted>'",
        ),
        (  # "api_key: " lost ": " and "a": glued to the key name before it
            f"{{accounts: [{{pi_k{SECRET}, provider: openai}}]}}\n",
            "accounts[0].pi_k<redacted>: unknown key",
        ),
    ],
)
def test_config_regressions(config_dir: Path, text: str, message: str) -> None:
    path = config_dir / "regression.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path, ENVIRON)
    assert message in str(info.value)
    check_message(str(info.value), path)


def test_a_config_file_that_is_not_utf8_is_a_config_error(config_dir: Path) -> None:
    path = config_dir / "latin1.yml"
    path.write_bytes(b"accounts: []\n# caf\xe9\n")  # UnicodeDecodeError before
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(invalid byte at offset 18\)"):
        load(path, ENVIRON)
