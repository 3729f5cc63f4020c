"""webapp/settings.py: environment helpers and what the environment switches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.fresh_python import REPO, run_python
from webapp import settings as project_settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("", True),
    ],
)
def test_env_bool(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("STUDIO_FLAG", raw)
    assert project_settings.env_bool("STUDIO_FLAG", True) is expected


def test_env_bool_fails_loudly_on_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="STUDIO_FLAG"):
        project_settings.env_bool("STUDIO_FLAG", False)


def test_env_int(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_NUMBER", raising=False)
    assert project_settings.env_int("STUDIO_NUMBER", 7) == 7
    monkeypatch.setenv("STUDIO_NUMBER", " 42 ")
    assert project_settings.env_int("STUDIO_NUMBER", 7) == 42
    for bad in ("4.5", "ten"):
        monkeypatch.setenv("STUDIO_NUMBER", bad)
        with pytest.raises(ImproperlyConfigured, match="STUDIO_NUMBER"):
            project_settings.env_int("STUDIO_NUMBER", 7)
    monkeypatch.setenv("STUDIO_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        project_settings.env_int("STUDIO_NUMBER", 7, minimum=1)


def test_env_str_without_default_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_TEXT", "  ")
    with pytest.raises(ImproperlyConfigured, match="Set the STUDIO_TEXT"):
        project_settings.env_str("STUDIO_TEXT")
    assert project_settings.env_str("STUDIO_TEXT", "fallback") == "fallback"
    assert project_settings.env_list("STUDIO_TEXT", "a, b,,c") == ["a", "b", "c"]


def load_settings(
    env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Import the settings module in a fresh interpreter with only ``env`` set."""
    return run_with_settings(
        "print(json.dumps({'debug': s.DEBUG, 'db': s.DATABASES['default']['ENGINE'],"
        " 'name': str(s.DATABASES['default']['NAME']), 'hosts': s.ALLOWED_HOSTS,"
        " 'broker': s.CELERY_BROKER_URL, 'cache': s.CACHES['default']['LOCATION']}))",
        env,
        tmp_path,
    )


def run_with_settings(
    script: str, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` after ``import json, webapp.settings as s`` in a fresh
    interpreter with only ``env`` set."""
    script = "import json, webapp.settings as s\n" + script + "\n"
    return run_python(script, data_dir=tmp_path, env=env)


def test_zero_configuration_runs_on_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    result = load_settings({}, tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["debug"] is True
    assert loaded["db"] == "django.db.backends.sqlite3"
    assert loaded["name"] == str(tmp_path / "studio.sqlite3")
    assert loaded["broker"] == "redis://127.0.0.1:6379/0"
    assert loaded["cache"] == "redis://127.0.0.1:6379/1"


def test_database_and_redis_come_from_the_environment(tmp_path: Path) -> None:
    result = load_settings(
        {
            "DATABASE_URL": "postgres://user@db.example:5432/studio",
            "REDIS_URL": "redis://cache.example:6379/2",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert (loaded["db"], loaded["name"]) == (
        "webapp.postgresql",
        "studio",
    )
    assert loaded["broker"] == "redis://cache.example:6379/2"
    assert loaded["cache"] == "redis://cache.example:6379/3"


@pytest.mark.parametrize(("raw", "threshold"), [(None, 0), ("1", 0), ("0", None)])
def test_prepared_statements_are_on_unless_turned_off_for_a_pooler(
    tmp_path: Path, raw: str | None, threshold: int | None
) -> None:
    env = {"DATABASE_URL": "postgres://user@db.example:5432/studio"}
    if raw is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = raw
    result = run_with_settings(
        "print(json.dumps(s.DATABASES['default'].get('OPTIONS', {})"
        ".get('prepare_threshold')))",
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == threshold


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("redis://cache.example:6379/2", "webapp.jobs.dispatch:RedisTransport"),
        # kombu sets up TLS by the scheme's name: its own transport keeps it.
        ("rediss://cache.example:6379/2", None),
    ],
)
def test_a_redis_broker_gets_the_transport_of_one_client(
    tmp_path: Path, url: str, transport: str | None
) -> None:
    result = run_with_settings(
        "print(json.dumps(getattr(s, 'CELERY_BROKER_TRANSPORT', None)))",
        {"REDIS_URL": url},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == transport


@pytest.mark.parametrize(
    ("broker", "cache"),
    [
        ("redis://:pw@redis:6379", "redis://:pw@redis:6379/1"),
        ("rediss://redis.example:6380/15", "rediss://redis.example:6380/14"),
    ],
)
def test_the_cache_defaults_to_another_database_of_the_broker(
    broker: str, cache: str
) -> None:
    assert project_settings.other_redis_database(broker) == cache


def test_cache_and_broker_apart_or_refused(tmp_path: Path) -> None:
    url = "redis://cache.example:6379/4"
    result = load_settings(
        {"REDIS_URL": url, "CACHE_URL": "redis://c:6379/9"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cache"] == "redis://c:6379/9"
    result = load_settings({"REDIS_URL": url, "CACHE_URL": url}, tmp_path)
    assert result.returncode != 0
    assert "CACHE_URL must name another Redis database" in result.stderr


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"DEBUG": "0", "ALLOWED_HOSTS": "example.org"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": "s3cret"}, "ALLOWED_HOSTS"),
    ],
)
def test_production_settings_have_no_defaults(
    tmp_path: Path, env: dict[str, str], missing: str
) -> None:
    result = load_settings(env, tmp_path)
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_settings_load_when_given(tmp_path: Path) -> None:
    result = load_settings(
        {"DEBUG": "false", "SECRET_KEY": "s3cret", "ALLOWED_HOSTS": "a.org,b.org"},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert (loaded["debug"], loaded["hosts"]) == (False, ["a.org", "b.org"])


def test_a_heartbeat_close_to_the_stale_threshold_is_refused(tmp_path: Path) -> None:
    result = load_settings(
        {"JOB_HEARTBEAT_SECONDS": "10", "JOB_STALE_AFTER_SECONDS": "20"}, tmp_path
    )
    assert result.returncode != 0
    assert "JOB_STALE_AFTER_SECONDS" in result.stderr


def test_broker_visibility_timeout_outlasts_every_hard_time_limit() -> None:
    timeout = project_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert timeout > project_settings.TRAINING_HARD_TIME_LIMIT
    assert timeout > project_settings.GENERATION_HARD_TIME_LIMIT
    assert project_settings.TRAINING_HARD_TIME_LIMIT > (
        project_settings.TRAINING_SOFT_TIME_LIMIT
    )


def read_settings(
    names: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Print the named settings as JSON from a fresh interpreter with only ``env``."""
    return run_with_settings(
        f"print(json.dumps({{name: getattr(s, name) for name in {names!r}}}))",
        env,
        tmp_path,
    )


def test_the_visibility_timeout_comes_from_the_environment_above_the_limits(
    tmp_path: Path,
) -> None:
    names = ["CELERY_VISIBILITY_TIMEOUT"]
    given = read_settings(names, {"CELERY_VISIBILITY_TIMEOUT": "9000"}, tmp_path)
    assert json.loads(given.stdout) == {"CELERY_VISIBILITY_TIMEOUT": 9000}
    # Below the training's hard limit (3720 s by default).
    refused = read_settings(names, {"CELERY_VISIBILITY_TIMEOUT": "3600"}, tmp_path)
    assert refused.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must be above" in refused.stderr


def test_by_default_a_killed_workers_job_is_swept_back_within_a_minute(
    tmp_path: Path,
) -> None:
    names = ["JOB_STALE_AFTER_SECONDS", "JOB_SWEEP_INTERVAL_SECONDS"]
    loaded = json.loads(
        read_settings([*names, "CELERY_TASK_ROUTES"], {}, tmp_path).stdout
    )
    assert sum(loaded[name] for name in names) <= 60
    assert loaded["CELERY_TASK_ROUTES"]["jobs.sweep"] == {"queue": "maintenance"}


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "kq3" + "x7Lm9Qp2Rz8Vt4Wn6Yb1Hc5Jd0Fg" * 2,
    "ALLOWED_HOSTS": "studio.example.org",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def security_settings(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    script = (
        "names = ['SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', "
        "'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_HTTPONLY', "
        "'SECURE_HSTS_SECONDS', 'TRUSTED_PROXY_COUNT']\n"
        "values = {name: getattr(s, name) for name in names}\n"
        "values['proxy'] = getattr(s, 'SECURE_PROXY_SSL_HEADER', None)\n"
        "print(json.dumps(values))"
    )
    result = run_with_settings(script, env, tmp_path)
    assert result.returncode == 0, result.stderr
    values: dict[str, object] = json.loads(result.stdout)
    return values


def test_check_deploy_reports_nothing_with_production_settings(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "DATA_DIR": str(tmp_path), **PRODUCTION},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_is_https_only_by_default(tmp_path: Path) -> None:
    assert security_settings(PRODUCTION, tmp_path) == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "TRUSTED_PROXY_COUNT": 0,
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_plain_http_for_a_local_run_with_debug_off(tmp_path: Path) -> None:
    """What `make run` uses: DEBUG off, served on http://localhost."""
    env = {
        "DEBUG": "0",
        "SECRET_KEY": PRODUCTION["SECRET_KEY"],
        "ALLOWED_HOSTS": "localhost",
        "SECURE_SSL": "0",
        "TRUSTED_PROXY_COUNT": "1",
    }
    values = security_settings(env, tmp_path)
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["CSRF_COOKIE_HTTPONLY"] is True
    assert (values["proxy"], values["TRUSTED_PROXY_COUNT"]) == (None, 1)


def test_limits_and_lockout_come_from_the_environment(tmp_path: Path) -> None:
    script = (
        "print(json.dumps([s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.seconds,"
        " s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['write'],"
        " s.MAX_ACTIVE_TRAINING_JOBS, s.MAX_ACTIVE_GENERATION_JOBS,"
        " s.STORAGE_QUOTA_MB, s.MAX_SERVED_MODEL_MB]))"
    )
    env = {
        "LOGIN_FAILURE_LIMIT": "3",
        "LOGIN_LOCKOUT_MINUTES": "2",
        "WRITE_THROTTLE_RATE": "7/second",
        "MAX_ACTIVE_TRAINING_JOBS": "1",
        "MAX_ACTIVE_GENERATION_JOBS": "2",
        "STORAGE_QUOTA_MB": "9",
        "MAX_SERVED_MODEL_MB": "8",
    }
    result = run_with_settings(script, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [3, 120, "7/second", 1, 2, 9, 8]
