"""docker-compose.yml, .env.example and the provisioning files the compose stack mounts."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    GRAFANA_DIR,
    PROMETHEUS_DIR,
    REPO,
    assert_ok,
    load_yaml,
    require_binary,
    run,
)

SERVICES = {"exporter", "prometheus", "alertmanager", "grafana"}
#: Passed to the exporter's environment; empty when unset (then it runs the demo).
EXPORTER_ENV = {
    "OPENAI_ADMIN_KEY",
    "ANTHROPIC_ADMIN_KEY",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
    "MOONSHOT_API_KEY",
    "GROQ_API_KEY",
    "XAI_MANAGEMENT_KEY",
    "XAI_TEAM_ID",
    "FIREWORKS_API_KEY",
    "FIREWORKS_ACCOUNT_ID",
}


def load_yaml_text(text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)  # type: ignore[no-any-return]


def env_example() -> dict[str, str]:
    """Variable → its comment (the comment lines right above it)."""
    documented: dict[str, str] = {}
    comment: list[str] = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            if not line.startswith("# ---"):
                comment.append(line.lstrip("# "))
            continue
        if not line.strip():
            comment = []
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
        assert match, f".env.example: not NAME=value: {line!r}"
        documented[match.group(1)] = " ".join(comment)
        comment = []
    return documented


def _project_dir(tmp_path: Path, *, password: bool) -> Path:
    """A project directory with a .env made from .env.example (compose needs env_file)."""
    project = tmp_path / "project"
    project.mkdir()
    env = ENV_EXAMPLE.read_text(encoding="utf-8")
    if password:
        env = env.replace("GRAFANA_ADMIN_PASSWORD=\n", "GRAFANA_ADMIN_PASSWORD=not-a-secret\n")
    (project / ".env").write_text(env, encoding="utf-8")
    return project


def _clean_env() -> dict[str, str]:
    """Environment without the stack's variables, so only .env provides them."""
    names = set(env_example())
    return {key: value for key, value in os.environ.items() if key not in names}


def test_docker_compose_config_is_valid(tmp_path: Path) -> None:
    docker_compose = require_binary("docker-compose")
    project = _project_dir(tmp_path, password=True)
    result = run(
        docker_compose, "-f", COMPOSE_FILE, "--project-directory", project, "config", "-q",
        env=_clean_env(),
    )  # fmt: skip
    assert_ok(result)


def test_fresh_clone_without_env_file_is_valid(tmp_path: Path) -> None:
    """No .env at all (a fresh clone): compose still validates and the exporter runs the demo."""
    docker_compose = require_binary("docker-compose")
    project = tmp_path / "fresh"
    project.mkdir()
    result = run(
        docker_compose, "-f", COMPOSE_FILE, "--project-directory", project, "config", "-q",
        env=_clean_env(),
    )  # fmt: skip
    assert_ok(result)


AGENTS_FILE = REPO / "docker-compose.agents.yml"


def test_agents_overlay_is_valid_and_read_only(tmp_path: Path) -> None:
    """The opt-in overlay (one COMPOSE_FILE line in .env) merges cleanly and mounts read-only."""
    docker_compose = require_binary("docker-compose")
    project = _project_dir(tmp_path, password=True)
    result = run(
        docker_compose, "-f", COMPOSE_FILE, "-f", AGENTS_FILE, "--project-directory", project,
        "config",
        env=_clean_env(),
    )  # fmt: skip
    assert_ok(result)
    merged = load_yaml_text(result.stdout)["services"]["exporter"]
    assert merged["environment"]["CLAUDE_CONFIG_DIR"] == "/agents/claude"
    assert merged["environment"]["CODEX_HOME"] == "/agents/codex"
    mounts = [str(v) for v in merged["volumes"]]
    assert any("/agents/claude" in v and "ro" in v for v in mounts), mounts
    assert any("/agents/codex" in v and "ro" in v for v in mounts), mounts
    assert "COMPOSE_FILE=docker-compose.yml:docker-compose.agents.yml" in ENV_EXAMPLE.read_text()
    check_jsonschema = require_binary("check-jsonschema")
    assert_ok(run(check_jsonschema, "--builtin-schema", "vendor.compose-spec", AGENTS_FILE))


def test_compose_spec_schema() -> None:
    check_jsonschema = require_binary("check-jsonschema")
    assert_ok(run(check_jsonschema, "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE))


def test_services() -> None:
    assert set(compose()["services"]) == SERVICES


def test_bind_mounted_paths_exist() -> None:
    mounts = 0
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                mounts += 1
                assert (REPO / source).resolve().exists(), f"{name}: {source} does not exist"
                if isinstance(volume, str):
                    assert volume.endswith(":ro"), f"{name}: bind mount {source} not read-only"
            else:
                assert source in compose()["volumes"], f"{name}: undeclared volume {source}"
    assert mounts >= 5


def test_images_are_pinned() -> None:
    for name, service in compose()["services"].items():
        if "build" in service:
            assert name == "exporter"
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image}"
    images = {name: s.get("image", "") for name, s in compose()["services"].items()}
    assert images["grafana"].startswith("grafana/grafana:11.6.")
    assert images["prometheus"].startswith("prom/prometheus:v3.")


def test_variables_are_documented() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8") + AGENTS_FILE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    used |= set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", text))
    documented = env_example()
    assert used, "expected ${VARIABLES} in the compose files"
    assert used <= set(documented), (
        f"undocumented in .env.example: {sorted(used - set(documented))}"
    )
    assert set(documented) >= EXPORTER_ENV
    assert set(documented) == used | EXPORTER_ENV, "unused variables in .env.example"
    for name, comment in documented.items():
        assert comment, f".env.example: {name} has no comment"


def test_env_example_holds_no_secrets() -> None:
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if re.match(r"[A-Z_]*(KEY|PASSWORD)=", line):
            assert line.endswith("="), f"example value for a secret: {line}"


def test_exporter_service() -> None:
    exporter = compose()["services"]["exporter"]
    assert exporter["build"]["context"] == "."
    assert "env_file" not in exporter  # only the provider keys reach the exporter
    assert set(exporter["environment"]) == EXPORTER_ENV
    assert "--demo=auto" in exporter["command"]  # no key: simulated data, marked demo
    test = " ".join(exporter["healthcheck"]["test"])
    assert "python" in test and "http://localhost:9771/-/healthy" in test
    assert not any(word in test for word in ("curl", "wget"))


def test_startup_order_and_healthchecks() -> None:
    services = compose()["services"]
    for name in SERVICES:
        assert "healthcheck" in services[name], f"{name}: no healthcheck"
    assert services["prometheus"]["depends_on"] == {"exporter": {"condition": "service_healthy"}}
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GRAFANA_ADMIN_PASSWORD")


def _mount_target(service: str, source: str) -> str:
    for volume in compose()["services"][service]["volumes"]:
        parts = volume.split(":")
        if parts[0] == source:
            return parts[1]
    raise AssertionError(f"{service} does not mount {source}")


def test_mounts_match_the_configuration_files() -> None:
    assert (
        _mount_target("prometheus", "./prometheus/prometheus.yml")
        == "/etc/prometheus/prometheus.yml"
    )
    rules_target = _mount_target("prometheus", "./prometheus/rules")
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    for pattern in config["rule_files"]:
        assert str(Path("/etc/prometheus") / pattern).startswith(rules_target + "/")
    assert _mount_target("alertmanager", "./prometheus/alertmanager") == "/etc/alertmanager"
    command = " ".join(compose()["services"]["alertmanager"]["command"])
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in command
    assert _mount_target("grafana", "./grafana/provisioning") == "/etc/grafana/provisioning"

    providers = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml")
    path = providers["providers"][0]["options"]["path"]
    assert _mount_target("grafana", "./grafana/dashboards") == path
    home = compose()["services"]["grafana"]["environment"][
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
    ]
    assert home.startswith(path + "/") and (GRAFANA_DIR / "dashboards" / Path(home).name).is_file()


def test_grafana_datasource() -> None:
    provisioning = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    (datasource,) = provisioning["datasources"]
    assert datasource["uid"] == "llm-prometheus"
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["jsonData"]["timeInterval"] == "60s"
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert datasource["jsonData"]["timeInterval"] == config["global"]["scrape_interval"]


@pytest.mark.parametrize("path", sorted(GRAFANA_DIR.glob("provisioning/**/*.yml")), ids=str)
def test_provisioning_files_are_yaml(path: Path) -> None:
    assert load_yaml(path)["apiVersion"] == 1


def test_secrets_directory_is_ignored() -> None:
    gitignore = PROMETHEUS_DIR / "alertmanager" / "secrets" / ".gitignore"
    assert gitignore.read_text(encoding="utf-8").splitlines()[-2:] == ["*", "!.gitignore"]
    git = shutil.which("git")
    if git:
        result = run(
            git, "check-ignore", "-q", "prometheus/alertmanager/secrets/smtp_password", cwd=REPO
        )
        assert result.returncode == 0, "git does not ignore files in secrets/"
