"""Configuration: YAML file (or environment discovery) validated by pydantic models.

Loading order: read YAML → interpolate ``${VAR}`` in every string (``$$`` is a literal ``$``)
→ validate (unknown keys rejected) → read ``*_file`` secrets → top-level settings overridden by
``LLM_EXPORTER_*`` environment variables. Every failure is a :class:`ConfigError` whose message
names the field path, the bad value (never a secret's) and what is expected.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from exporter.errors import ConfigError
from exporter.providers import PROVIDERS
from exporter.providers.base import DIMENSIONS

#: Field names whose values are credentials: never echoed in errors, reprs or logs.
SECRET_FIELDS = frozenset({"api_key"})
#: Credentials by the shapes providers give them (``sk-``: OpenAI, Anthropic, OpenRouter,
#: DeepSeek, Moonshot; ``gsk_``: Groq; ``xai-``: xAI; ``fw_``: Fireworks). A typo can move a
#: key out of ``api_key`` (``{api_key sk-...}`` is a key named after it; an unclosed quote
#: swallows it into another value, a deleted character glues it to the key before it): error
#: messages redact anything of these shapes, wherever it starts.
_CREDENTIAL_SHAPE = re.compile(r"(?:sk|gsk|xai|fw)[-_][A-Za-z0-9_\-]{16,}")

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_ENV_REF = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\})")


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h30m"`` (Prometheus-style units)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.match(value.strip()):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value.strip()))
    else:
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if not math.isfinite(seconds):  # .nan / .inf in YAML, or a number too large for a float
        raise ValueError("expected a finite duration")
    if seconds <= 0:
        raise ValueError("expected a positive duration")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Dimension = Literal["project", "api_key", "model", "line_item"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountConfig(_Strict):
    provider: str
    name: str | None = None
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    base_url: str | None = None
    poll_interval: Duration | None = None
    stale_after: Duration | None = None
    timeout: Duration = 60.0
    group_by: tuple[Dimension, ...] = DIMENSIONS  # type: ignore[assignment]
    sources: tuple[str, ...] | None = None
    max_series: int = Field(default=2000, ge=1)
    #: Provider-specific settings, validated by the provider's ``options`` model.
    options: Mapping[str, Any] = Field(default_factory=dict)

    _secret: str | None = PrivateAttr(default=None)
    _options: BaseModel | None = PrivateAttr(default=None)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            hint = _did_you_mean(value, PROVIDERS)
            raise ValueError(f"expected one of: {', '.join(sorted(PROVIDERS))}{hint}")
        return value

    @field_validator("name")
    @classmethod
    def _label_safe(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL_VALUE.match(value):
            raise ValueError("expected letters, digits, '.', '_', ':' or '-' (it becomes a label)")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _check_sources_and_secret(self) -> AccountConfig:
        spec = PROVIDERS[self.provider]
        for source in self.sources or ():
            if source not in spec.sources:
                hint = _did_you_mean(source, spec.sources)
                raise ValueError(
                    f"sources: unknown source {source!r} for provider {self.provider}; "
                    f"expected some of: {', '.join(spec.sources)}{hint}"
                )
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("set api_key or api_key_file, not both")
        if not spec.needs_key and (self.api_key is not None or self.api_key_file is not None):
            raise ValueError(
                f"provider {self.provider} reads its own credentials ({spec.key_hint}); "
                "remove api_key / api_key_file"
            )
        try:
            self._options = spec.options.model_validate(dict(self.options))
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False):
                where = ".".join(_key(p) for p in error["loc"])
                if error["type"] == "extra_forbidden":
                    known = sorted(spec.options.model_fields)
                    hint = _did_you_mean(str(error["loc"][-1]), known)
                    choices = ", ".join(known) or "none"
                    problems.append(
                        f"options.{where}: unknown key{hint or '; expected: ' + choices}"
                    )
                else:
                    message = _readable(str(error["msg"]))
                    problems.append(f"options.{where}: {message}")
            raise ValueError("; ".join(problems)) from None
        return self

    @property
    def parsed_options(self) -> BaseModel:
        """The validated ``options`` (an instance of the provider's options model)."""
        assert self._options is not None
        return self._options

    @property
    def account(self) -> str:
        """The ``account`` label."""
        spec = PROVIDERS[self.provider]
        return self.name or spec.default_account or self.provider

    @property
    def provider_label(self) -> str:
        """The ``provider`` label (the vendor; differs from ``provider`` for local sources)."""
        return PROVIDERS[self.provider].label or self.provider

    @property
    def secret(self) -> str | None:
        """The resolved credential (from ``api_key`` or ``api_key_file``)."""
        if self._secret is not None:
            return self._secret
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def enabled_sources(self) -> tuple[str, ...]:
        return self.sources or tuple(PROVIDERS[self.provider].sources)


class BudgetMatch(_Strict):
    """Selects the series a budget counts; each field is one value or a list (any of)."""

    provider: tuple[str, ...] | None = None
    account: tuple[str, ...] | None = None
    project: tuple[str, ...] | None = None
    api_key: tuple[str, ...] | None = None
    model: tuple[str, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _scalars_to_lists(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in data.items()}
        return data

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key in ("provider", "account", "project", "api_key", "model"):
            wanted: tuple[str, ...] | None = getattr(self, key)
            if wanted is not None and labels.get(key, "") not in wanted:
                return False
        return True


class BudgetConfig(_Strict):
    name: str
    limit_usd: Decimal = Field(gt=0)
    period: Literal["month"] = "month"
    match: BudgetMatch = BudgetMatch()
    #: What spend counts: ``billed`` cost, ``estimated`` cost, or per account billed where the
    #: account has a billed cost source and estimated where it has none (the default).
    include: Literal["billed", "estimated", "billed_or_estimated"] = "billed_or_estimated"

    @field_validator("name")
    @classmethod
    def _label_safe(cls, value: str) -> str:
        if not _LABEL_VALUE.match(value):
            raise ValueError("expected letters, digits, '.', '_', ':' or '-' (it becomes a label)")
        return value


class SubscriptionConfig(_Strict):
    """A flat fee with no API (ChatGPT/Claude plans, Copilot, Cursor, ...)."""

    name: str
    provider: str
    monthly_usd: Decimal = Field(ge=0)
    seats: int = Field(default=1, ge=1)

    @field_validator("name", "provider")
    @classmethod
    def _label_safe(cls, value: str) -> str:
        if not _LABEL_VALUE.match(value):
            raise ValueError("expected letters, digits, '.', '_', ':' or '-' (it becomes a label)")
        return value


class TokenPrices(_Strict):
    """USD per million tokens; a type left out is priced by the catalog's fallback rule."""

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write_5m: Decimal | None = Field(default=None, ge=0)
    cache_write_1h: Decimal | None = Field(default=None, ge=0)


class PriceConfig(_Strict):
    """An operator's price for a model the catalog lacks or prices differently."""

    provider: str
    model: str
    usd_per_million_tokens: TokenPrices


class PricingConfig(_Strict):
    #: Operator prices; they win over every other source.
    prices: tuple[PriceConfig, ...] = ()
    #: Export llm_model_price_usd_per_token for the whole OpenRouter catalog, not only
    #: the models in use.
    export_openrouter_catalog: bool = False


class Config(BaseSettings):
    """The whole configuration. Top-level scalars can be overridden by ``LLM_EXPORTER_*``."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix="LLM_EXPORTER_", env_ignore_empty=True
    )

    poll_interval: Duration = 300.0
    #: Default staleness: this many poll intervals without success drop a source's data.
    stale_polls: int = Field(default=3, ge=1)
    accounts: tuple[AccountConfig, ...] = ()
    budgets: tuple[BudgetConfig, ...] = ()
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    pricing: PricingConfig = PricingConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (_ScalarEnvSource(settings_cls), init_settings)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[tuple[str, str]] = set()
        for account in self.accounts:
            key = (account.provider_label, account.account)
            if key in seen:
                raise ValueError(
                    f"accounts: two {account.provider_label} accounts are named "
                    f"{account.account!r}; give each a distinct name"
                )
            seen.add(key)
        for section, names in (
            ("budgets", [b.name for b in self.budgets]),
            ("subscriptions", [f"{s.provider}/{s.name}" for s in self.subscriptions]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{section}: duplicate name(s) {', '.join(dupes)}")
        return self

    def poll_interval_of(self, account: AccountConfig) -> float:
        default = PROVIDERS[account.provider].default_poll_interval
        return account.poll_interval or max(self.poll_interval, default or 0.0)

    def stale_after_of(self, account: AccountConfig) -> float:
        return account.stale_after or self.stale_polls * self.poll_interval_of(account)


class _ScalarEnvSource(PydanticBaseSettingsSource):
    """``LLM_EXPORTER_<FIELD>`` for the top-level scalar settings only."""

    _FIELDS = ("poll_interval", "stale_polls")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return os.environ.get(f"LLM_EXPORTER_{field_name.upper()}"), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self._FIELDS:
            raw = os.environ.get(f"LLM_EXPORTER_{name.upper()}")
            if raw:
                values[name] = raw
        return values


# --------------------------------------------------------------------------- loading


def load(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the config file, or discover accounts from the environment when ``path`` is None."""
    env = os.environ if environ is None else environ
    if path is None:
        return _validate({"accounts": _discover(env)}, env, base_dir=Path.cwd())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        raw = yaml.load(text, Loader=_Loader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(_redacted(f"{path}: {problem}{where}")) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {_kind(raw)}")
    try:
        interpolated = _interpolate(raw, env, "")
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply (or an alias that contains itself)") from None
    return _validate(interpolated, env, base_dir=path.parent)


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load``, except that a value its tag cannot construct (``2024-13-01`` read as
    a date, ``!!int x``) is a YAML error with a position instead of a raw ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):
            kind = str(node.tag).rsplit(":", 1)[-1]
            # The value is not shown: it may be a credential.
            raise yaml.constructor.ConstructorError(
                None, None, f"not a valid {kind} (quote it to keep it a string)", node.start_mark
            ) from None


def _discover(env: Mapping[str, str]) -> list[dict[str, Any]]:
    accounts: list[dict[str, Any]] = []
    for name, spec in PROVIDERS.items():
        if spec.env_var is None:
            continue
        entry: dict[str, Any] | None = None
        if not spec.needs_key:
            # Local sources: the variable (e.g. CLAUDE_CONFIG_DIR) switches them on and the
            # provider reads it for its paths.
            if env.get(spec.env_var):
                entry = {"provider": name}
        elif env.get(spec.env_var):
            entry = {"provider": name, "api_key": env[spec.env_var]}
        elif env.get(f"{spec.env_var}_FILE"):
            entry = {"provider": name, "api_key_file": env[f"{spec.env_var}_FILE"]}
        if entry is None:
            continue
        options = {opt: env[var] for opt, var in spec.env_options.items() if env.get(var)}
        if options:
            entry["options"] = options
        accounts.append(entry)
    return accounts


def _validate(raw: dict[str, Any], env: Mapping[str, str], base_dir: Path) -> Config:
    # ``Config(**raw)`` would take ``_env_file``, ``_cli_parse_args``, ... as pydantic-settings
    # options (a non-string key is a TypeError there): only field names may pass.
    for key in raw:
        if not isinstance(key, str) or key.startswith("_"):
            shown = _key(key) if isinstance(key, str) else _show(key)
            known = ", ".join(sorted(Config.model_fields))
            raise ConfigError(f"{shown}: unknown key; expected one of: {known}")
    try:
        config = Config(**raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, raw)) from None
    for index, account in enumerate(config.accounts):
        if account.api_key_file is not None:
            file = account.api_key_file
            if not file.is_absolute():
                file = base_dir / file
            try:
                secret = file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"accounts[{index}].api_key_file: cannot read {file}: {exc.strerror}"
                ) from None
            if not secret:
                raise ConfigError(f"accounts[{index}].api_key_file: {file} is empty")
            account._secret = secret
    return config


def _interpolate(node: Any, env: Mapping[str, str], path: str) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, env, _join(path, _key(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str) and "$" in node:

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) == "$":
                return "$"
            name = match.group(2)
            if name not in env:
                raise ConfigError(
                    f"{path}: environment variable {name} is not set "
                    f"(referenced as ${{{name}}}); export it or remove the reference"
                )
            return env[name]

        return _ENV_REF.sub(substitute, node)
    return node


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------- error messages


def _format_errors(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=True):
        loc = tuple(error["loc"])
        path = _loc_path(loc)
        field = next((p for p in reversed(loc) if isinstance(p, str)), "")
        kind = error["type"]
        if kind == "extra_forbidden":
            known = _known_keys(loc[:-1])
            hint = _did_you_mean(str(loc[-1]), known)
            lines.append(f"{path}: unknown key{hint or '; expected one of: ' + ', '.join(known)}")
            continue
        if kind == "missing":
            lines.append(f"{path}: required field is missing")
            continue
        message = _readable(str(error["msg"]))
        shown = error.get("input")
        if field in SECRET_FIELDS or _is_secret_path(loc) or isinstance(shown, Mapping | list):
            # Never echo a credential, nor a whole section that may contain one.
            lines.append(f"{path}: {message}")
        else:
            lines.append(f"{path}: got {_show(error.get('input'))}; {message}")
    return _redacted("invalid configuration:\n" + "\n".join(f"  - {line}" for line in lines))


def _redacted(message: str) -> str:
    return _CREDENTIAL_SHAPE.sub("<redacted>", message)


_CLASS_REPR = re.compile(r"<class '(?:\w+\.)*(\w+)'>")


def _readable(message: str) -> str:
    """A pydantic error message for the operator: ``Input is not a valid path for <class
    'pathlib.Path'>`` → ``... for Path``; no ``Value error, `` prefix."""
    return _CLASS_REPR.sub(r"\1", message.removeprefix("Value error, "))


def _key(part: object) -> str:
    """A key as shown in a field path: quoted when it is empty, has outer spaces or characters
    that are not printable (a newline in a key must not break the message into lines)."""
    text = str(part)
    return text if text and text.isprintable() and text.strip() == text else repr(text)


def _loc_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = _join(out, _key(part))
    return out or "(top level)"


def _is_secret_path(loc: tuple[Any, ...]) -> bool:
    return any(isinstance(p, str) and p in SECRET_FIELDS for p in loc)


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(str(part))
        model = _model_in(info.annotation) if info is not None else None
    return sorted(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(value: str, choices: Iterator[str] | Mapping[str, Any] | list[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
