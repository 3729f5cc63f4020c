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
WORKERS = {
    "worker-training": "training",
    "worker-generation": "generation",
    "worker-maintenance": "maintenance",
}
APP_SERVICES = ("web", *WORKERS, "beat", "flower")
# Keys the app services may differ in: what they run, how their health is
# checked, the published ports (web, flower) and Flower's password.
PER_SERVICE_KEYS = {"command", "ports", "healthcheck", "environment"}

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
    assert set(services) == {"db", "redis", *APP_SERVICES}


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
    assert all(block == shared[0] for block in shared)
    assert shared[0]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (REPO / shared[0]["build"]["dockerfile"]).is_file()
    web_environment = services["web"]["environment"]
    for name in APP_SERVICES:
        extra = set(services[name]["environment"]) - set(web_environment)
        assert extra == ({"FLOWER_BASIC_AUTH"} if name == "flower" else set())
        assert {
            k: v for k, v in services[name]["environment"].items() if k not in extra
        } == web_environment
    assert [name for name in APP_SERVICES if "ports" in services[name]] == [
        "web",
        "flower",
    ]


def test_compose_file_uses_a_yaml_anchor_for_the_app_block() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert re.search(r"^x-app: &app\b", text, re.MULTILINE)
    assert len(re.findall(r"<<: \*app$", text, re.MULTILINE)) == len(APP_SERVICES)


@pytest.mark.parametrize(("service", "queue"), WORKERS.items())
def test_each_worker_service_takes_its_own_queue_under_its_own_node_name(
    services: dict[str, dict[str, Any]], service: str, queue: str
) -> None:
    words = command_words(services[service])
    assert words[:4] == ["celery", "-A", "worker", "worker"]
    # Its own queue first, and the sweeper's, which every worker consumes.
    queues = (option_value(words, "-Q", "--queues") or "").split(",")
    assert (queues[0], set(queues)) == (queue, {queue, "maintenance"})
    assert option_value(words, "-n", "--hostname") == f"{queue}@%h"
    # The health check pings this very node.
    check = " ".join(services[service]["healthcheck"]["test"])
    assert "celery -A worker inspect ping" in check
    assert f"--destination={queue}@$$HOSTNAME" in check


def test_training_runs_one_at_a_time_in_recycled_processes(
    services: dict[str, dict[str, Any]],
) -> None:
    words = command_words(services["worker-training"])
    assert option_value(words, "-c", "--concurrency") == "1"
    assert int(option_value(words, "--max-tasks-per-child") or 0) >= 1
    assert int(option_value(words, "--max-memory-per-child") or 0) >= 1024 * 1024


def test_generation_runs_as_many_at_once_as_there_are_cores(
    services: dict[str, dict[str, Any]],
) -> None:
    # Celery's default concurrency is the number of cores.
    words = command_words(services["worker-generation"])
    assert option_value(words, "-c", "--concurrency") is None


def test_every_queue_the_settings_route_to_has_a_worker_service(
    services: dict[str, dict[str, Any]],
) -> None:
    from django.conf import settings

    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    consumed = {
        queue
        for name in WORKERS
        for queue in (
            option_value(command_words(services[name]), "-Q", "--queues") or ""
        ).split(",")
    }
    assert routed <= consumed


def test_every_service_has_a_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    web = services["web"]["healthcheck"]["test"]
    assert web[-2:] == ["deploy/healthcheck.py", "http://127.0.0.1:8000/readyz"]
    assert (REPO / "deploy" / "healthcheck.py").is_file()
    assert services["beat"]["healthcheck"]["test"][-2:] == ["manage.py", "readiness"]
    flower = services["flower"]["healthcheck"]["test"]
    assert flower[-1] == "http://127.0.0.1:5555/healthcheck"


def grace_seconds(value: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(
        int(number) * units[unit] for number, unit in re.findall(r"(\d+)([smh])", value)
    )


def test_stopping_waits_long_enough_for_a_generation(
    services: dict[str, dict[str, Any]],
) -> None:
    from django.conf import settings

    assert grace_seconds("1m30s") == 90
    for name in APP_SERVICES:
        grace = grace_seconds(services[name]["stop_grace_period"])
        assert grace > settings.GENERATION_HARD_TIME_LIMIT, name


def test_beat_is_never_scaled(services: dict[str, dict[str, Any]]) -> None:
    beat = services["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat
    assert [
        name
        for name in APP_SERVICES
        if command_words(services[name])[:4] == ["celery", "-A", "worker", "beat"]
    ] == ["beat"]


def test_redis_keeps_and_never_evicts_queued_jobs(
    services: dict[str, dict[str, Any]],
) -> None:
    command = command_words(services["redis"])
    assert option_value(command, "--appendonly") == "yes"
    assert option_value(command, "--maxmemory-policy") == "noeviction"


def test_flower_needs_a_password_and_listens_on_loopback_only(
    services: dict[str, dict[str, Any]],
) -> None:
    flower = services["flower"]
    assert command_words(flower)[:4] == ["celery", "-A", "worker", "flower"]
    assert flower["ports"] == ["127.0.0.1:${FLOWER_PORT:-5555}:5555"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == (
        "${FLOWER_USER:-admin}:${FLOWER_PASSWORD:?Set FLOWER_PASSWORD in .env "
        "(see deploy/.env.example)}"
    )
    assert services["web"]["ports"] == ["127.0.0.1:${PORT:-8000}:8000"]


def test_the_stack_logs_json(services: dict[str, dict[str, Any]]) -> None:
    assert services["web"]["environment"]["LOG_FORMAT"] == "${LOG_FORMAT:-json}"
    web = command_words(services["web"])
    assert option_value(web, "--config") == "deploy/gunicorn.conf.py"


def test_beat_and_web_commands(services: dict[str, dict[str, Any]]) -> None:
    beat = command_words(services["beat"])
    assert beat[:4] == ["celery", "-A", "worker", "beat"]
    web = command_words(services["web"])
    assert "--migrate" in web
    gunicorn = web.index("gunicorn")
    application = next(w for w in web[gunicorn + 1 :] if not w.startswith("-"))
    assert application.startswith("webapp.wsgi")


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
        passed = set(services[name]["environment"]) - {"FLOWER_BASIC_AUTH"}
        assert passed - settings_vars == set()


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

SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "FLOWER_PASSWORD")
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
    "FLOWER_PASSWORD": "fl0123456789abcdef",
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
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == (
        f"admin:{SECRET_VALUES['FLOWER_PASSWORD']}"
    )
    command = command_words(services["redis"])
    assert option_value(command, "--requirepass") == redis
    # The health check authenticates (redis-cli reads REDISCLI_AUTH).
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == redis
    assert "PONG" in " ".join(services["redis"]["healthcheck"]["test"])


LITERAL_SECRET = re.compile(
    r"^\s*\w*(?:PASSWORD|SECRET|AUTH)\w*:[ \t]*(\S.*)?$", re.MULTILINE
)


def literal_secrets(text: str) -> list[str]:
    """Values of secret-looking keys once the ${...} references are removed; the
    colon of Flower's user:password is no secret."""
    values = LITERAL_SECRET.findall(REFERENCE.sub("", text))
    return [value for value in values if value not in ("", ":")]


def test_no_secret_is_written_in_the_compose_file() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert literal_secrets(text) == []
    # The check works.
    assert literal_secrets("    SECRET_KEY: compose-local-only") == [
        "compose-local-only"
    ]
    assert literal_secrets("    FLOWER_BASIC_AUTH: admin:${P:?x}") == ["admin:"]
    assert literal_secrets("    FLOWER_BASIC_AUTH: ${U:-admin}:hunter2") == [":hunter2"]
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
