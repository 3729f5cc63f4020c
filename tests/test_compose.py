"""docker-compose.yml, deploy/ and the settings agree (STYLE §10)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
# Keys the app services may differ in: what they run, and the web port.
PER_SERVICE_KEYS = {"command", "ports", "stop_grace_period"}

ENV_READ_PATTERNS = (
    # The settings' env_str/env_bool/env_int/... helpers.
    re.compile(r"""\benv_\w+\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\bos\.environ\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\bos\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""),
    re.compile(r"""\bos\.getenv\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
)
ENV_EXAMPLE_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def settings_env_vars(source: str) -> set[str]:
    names: set[str] = set()
    for pattern in ENV_READ_PATTERNS:
        names.update(pattern.findall(source))
    # dj_database_url.config() reads DATABASE_URL unless told another name.
    if "dj_database_url.config(" in source and "env=" not in source:
        names.add("DATABASE_URL")
    names.discard("DJANGO_SETTINGS_MODULE")
    return names


def env_example_vars(text: str) -> set[str]:
    return set(ENV_EXAMPLE_LINE.findall(text))


def command_words(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def option_value(words: list[str], *names: str) -> str | None:
    for index, word in enumerate(words):
        if word in names and index + 1 < len(words):
            return words[index + 1]
        for name in names:
            if name.startswith("--") and word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="module")
def settings_vars() -> set[str]:
    names = settings_env_vars((REPO / "webapp" / "settings.py").read_text())
    # Guards the scanner itself: these are read by any version of the settings.
    assert {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "REDIS_URL"} <= names
    return names


def test_all_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)


def test_every_worker_consumes_the_sweepers_queue_and_stops_gracefully(
    services: dict[str, dict[str, Any]],
) -> None:
    from django.conf import settings

    workers = {
        name: service
        for name, service in services.items()
        if service.get("command") and command_words(service)[:4][-1:] == ["worker"]
    }
    assert workers
    for name, service in workers.items():
        queues = option_value(command_words(service), "-Q", "--queues") or ""
        assert "maintenance" in queues.split(","), name
        grace = str(service["stop_grace_period"])
        minutes = re.fullmatch(r"(\d+)m", grace)
        assert minutes, grace
        assert int(minutes[1]) * 60 > settings.GENERATION_HARD_TIME_LIMIT, name


def test_app_services_share_one_image_and_block(
    services: dict[str, dict[str, Any]],
) -> None:
    shared = [
        {k: v for k, v in services[name].items() if k not in PER_SERVICE_KEYS}
        for name in APP_SERVICES
    ]
    assert shared[0] == shared[1] == shared[2]
    assert shared[0]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (REPO / shared[0]["build"]["dockerfile"]).is_file()
    assert "ports" not in services["worker"]
    assert "ports" not in services["beat"]


def test_compose_file_uses_a_yaml_anchor_for_the_app_block() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert re.search(r"^x-app: &app\b", text, re.MULTILINE)
    assert len(re.findall(r"<<: \*app\b", text)) == len(APP_SERVICES)


def test_worker_consumes_both_queues_and_the_sweepers(
    services: dict[str, dict[str, Any]],
) -> None:
    words = command_words(services["worker"])
    assert words[:4] == ["celery", "-A", "worker", "worker"]
    queues = option_value(words, "-Q", "--queues")
    assert queues is not None
    assert set(queues.split(",")) == {"training", "generation", "maintenance"}


def test_beat_and_web_commands(services: dict[str, dict[str, Any]]) -> None:
    beat = command_words(services["beat"])
    assert beat[:4] == ["celery", "-A", "worker", "beat"]
    web = command_words(services["web"])
    assert "--migrate" in web
    gunicorn = web.index("gunicorn")
    assert web[gunicorn + 1].startswith("webapp.wsgi")


def test_app_services_wait_for_healthy_db_and_redis(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("db", "redis"):
        assert services[name]["healthcheck"]["test"]
    assert services["db"]["image"].startswith("postgres:16")
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }


def test_data_lives_on_a_named_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        mounts = [m.split(":") for m in services[name]["volumes"]]
        assert [environment["DATA_DIR"]] == [m[1] for m in mounts if m[0] == "data"]
    assert "data" in compose["volumes"]


def test_compose_passes_only_variables_the_settings_read(
    services: dict[str, dict[str, Any]], settings_vars: set[str]
) -> None:
    for name in APP_SERVICES:
        assert set(services[name]["environment"]) - settings_vars == set()


def test_env_example_lists_every_variable_the_settings_read(
    settings_vars: set[str],
) -> None:
    listed = env_example_vars((REPO / "deploy" / ".env.example").read_text())
    assert settings_vars - listed == set()


def test_dockerfile_runs_as_a_non_root_user() -> None:
    lines = (REPO / "deploy" / "Dockerfile").read_text().splitlines()
    assert next(line for line in lines if line.startswith("FROM ")) == (
        "FROM python:3.11-slim"
    )
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")


def test_entrypoint_is_valid_shell() -> None:
    entrypoint = REPO / "deploy" / "entrypoint.sh"
    result = subprocess.run(
        ["sh", "-n", str(entrypoint)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_settings_scanner_finds_each_way_of_reading() -> None:
    source = (
        'SECRET_KEY = env_str("SECRET_KEY")\n'
        'DEBUG = env_bool( "DEBUG", default=True)\n'
        "WORKERS = env_int('WORKERS', 2)\n"
        'HOME = os.environ.get("HOME_DIR")\n'
        'TOKEN = os.environ["TOKEN"]\n'
        'X = os.getenv("X_Y")\n'
        "DATABASES = {'default': dj_database_url.config(default='sqlite://')}\n"
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")\n'
    )
    assert settings_env_vars(source) == {
        "SECRET_KEY",
        "DEBUG",
        "WORKERS",
        "HOME_DIR",
        "TOKEN",
        "X_Y",
        "DATABASE_URL",
    }


def test_env_example_parser_reads_set_and_commented_variables() -> None:
    text = "# Comment: not=this\nDEBUG=1\n# MNIST_DIR=/srv/mnist\nlower=x\n"
    assert env_example_vars(text) == {"DEBUG", "MNIST_DIR"}


# --- Secrets: compose's ${NAME:?message} refuses to start without them ---------------

SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD")
REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message} (empty = unset)."""

    def value(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        given = env.get(name, "")
        if given:
            return given
        if operator in (":?", "?"):
            raise MissingVariable(f"{name}: {argument}")
        return argument if operator in (":-", "-") else ""

    return REFERENCE.sub(value, text)


def rendered(env: dict[str, str]) -> dict[str, Any]:
    data = yaml.safe_load(interpolate((REPO / "docker-compose.yml").read_text(), env))
    assert isinstance(data, dict)
    return data


SECRET_VALUES = {
    "SECRET_KEY": "k" * 60,
    "POSTGRES_PASSWORD": "pg0123456789abcdef",
    "REDIS_PASSWORD": "rd0123456789abcdef",
}


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_each_secret(missing: str) -> None:
    env = {name: value for name, value in SECRET_VALUES.items() if name != missing}
    with pytest.raises(MissingVariable, match=rf"^{missing}: Set {missing} in \.env"):
        rendered(env)
    with pytest.raises(MissingVariable, match=missing):
        rendered({**env, missing: ""})


def test_every_reference_to_a_secret_is_required() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    references = REFERENCE.findall(text)
    for secret in SECRETS:
        uses = [(op, message) for name, op, message in references if name == secret]
        assert uses, secret
        assert all(op == ":?" and message.strip() for op, message in uses), secret


def test_the_secrets_reach_the_services_and_redis_requires_its_password() -> None:
    services = rendered(SECRET_VALUES)["services"]
    postgres, redis = (
        SECRET_VALUES["POSTGRES_PASSWORD"],
        SECRET_VALUES["REDIS_PASSWORD"],
    )
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["SECRET_KEY"] == SECRET_VALUES["SECRET_KEY"]
        assert environment["DATABASE_URL"] == (
            f"postgres://studio:{postgres}@db:5432/studio"
        )
        assert environment["REDIS_URL"] == f"redis://:{redis}@redis:6379/0"
        # The cache in another database: flushing it drops no queued job.
        assert environment["CACHE_URL"] == f"redis://:{redis}@redis:6379/1"
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == postgres
    command = command_words(services["redis"])
    assert option_value(command, "--requirepass") == redis
    # The health check authenticates (redis-cli reads REDISCLI_AUTH).
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == redis
    assert "PONG" in " ".join(services["redis"]["healthcheck"]["test"])


def test_no_secret_is_written_in_the_compose_file() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    without_references = REFERENCE.sub("", text)
    literal = re.compile(r"^\s*\w*(PASSWORD|SECRET|AUTH)\w*:[ \t]*\S", re.MULTILINE)
    assert literal.search(without_references) is None
    assert literal.search("    SECRET_KEY: compose-local-only")  # the check works
    assert "studio:studio@" not in text
    assert "change-me" not in text.lower()


def test_env_example_lists_every_compose_variable_and_leaves_secrets_empty() -> None:
    text = (REPO / "deploy" / ".env.example").read_text()
    referenced = {
        name
        for name, _, _ in REFERENCE.findall((REPO / "docker-compose.yml").read_text())
    }
    assert referenced - env_example_vars(text) == set()
    for secret in SECRETS:
        assert re.search(rf"^{secret}=$", text, re.MULTILINE), secret


def test_interpolation_follows_compose() -> None:
    text = "a=${A:-x} b=${B} c=${C:?need C} d=${D:-}"
    assert interpolate(text, {"C": "3", "B": "2"}) == "a=x b=2 c=3 d="
    with pytest.raises(MissingVariable, match="C: need C"):
        interpolate(text, {})
