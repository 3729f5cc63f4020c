"""The compose smoke test's pure parts (deploy/ci/compose_smoke), and its
override against docker-compose.yml.

The smoke test itself needs root and a container engine: CI runs it (.ci/run).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_smoke import host, images, stack
from compose_smoke.common import Failure

REPO = Path(__file__).resolve().parent.parent

# What `iptables -S` printed on this project's machine before and after dockerd
# started (the filter table, with one rule that was there before).
FILTER_BEFORE = [
    "-P INPUT ACCEPT",
    "-P FORWARD ACCEPT",
    "-P OUTPUT ACCEPT",
    "-A FORWARD -i eth0 -j ACCEPT",
]
FILTER_WITH_DOCKER = [
    "-P INPUT ACCEPT",
    "-P FORWARD DROP",
    "-P OUTPUT ACCEPT",
    "-N DOCKER",
    "-N DOCKER-ISOLATION-STAGE-1",
    "-N DOCKER-USER",
    "-A FORWARD -i eth0 -j ACCEPT",
    "-A FORWARD -j DOCKER-USER",
    "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
    "-A FORWARD -i mnistkde0 ! -o mnistkde0 -j ACCEPT",
    "-A DOCKER-ISOLATION-STAGE-1 -i mnistkde0 ! -o mnistkde0 -j DROP",
    "-A DOCKER-USER -j RETURN",
]


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_mirror_comes_from_a_deb822_file(tmp_path: Path) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text(
        "Types: deb\n"
        "URIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "\n"
        "Types: deb-src\n"
        "URIs: http://source.example/debian\n"
        "Suites: bookworm\n"
        "Components: main\n"
        "\n"
        "Enabled: no\n"
        "Types: deb\n"
        "URIs: http://disabled.example/debian\n"
        "Suites: bookworm\n"
        "Components: main\n"
        "\n"
        "Types: deb\n"
        "# http://snapshot.example/archive/debian/20250520T000000Z\n"
        "URIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main contrib\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    assert images.debian_mirror([sources]) == "http://mirror.example/debian"


def test_mirror_comes_from_a_one_line_file(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://updates.example/debian bookworm-updates main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] "
        "https://mirror.example/debian bookworm main non-free  # the archive\n"
    )
    missing = tmp_path / "debian.sources"
    assert images.debian_mirror([missing, sources]) == "https://mirror.example/debian"


def test_no_mirror_for_the_suite_fails(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text("deb http://mirror.example/debian trixie main\n")
    with pytest.raises(Failure, match="no mirror for bookworm main"):
        images.debian_mirror([sources])


def test_pip_config_files_follow_pips_order() -> None:
    files = images.pip_config_files(
        {"HOME": "/home/u", "XDG_CONFIG_DIRS": "/a:/b", "PIP_CONFIG_FILE": "/c.conf"}
    )
    assert files == [
        Path("/a/pip/pip.conf"),
        Path("/b/pip/pip.conf"),
        Path("/etc/pip.conf"),
        Path("/home/u/.pip/pip.conf"),
        Path("/home/u/.config/pip/pip.conf"),
        Path("/c.conf"),
    ]


def test_pip_index_settings_keep_what_a_container_can_reach(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_text(
        "[global]\n"
        "index-url = https://site.example/simple\n"
        "extra-index-url = file:///opt/pypi/simple https://extra.example/simple\n"
        "find-links = /opt/wheels\n"
        "cert = /etc/ssl/certs/ca-certificates.crt\n"
        "[install]\n"
        "trusted-host = extra.example\n"
    )
    user = tmp_path / "user.conf"
    user.write_text("[global]\nindex-url = https://user.example/simple\n")
    local_only = tmp_path / "local.conf"
    local_only.write_text("[global]\nextra-index-url = file:///opt/pypi-more/simple\n")
    files = [site, tmp_path / "missing.conf", user]

    assert images.pip_index_config(files, {}) == {
        "index-url": "https://user.example/simple",
        "extra-index-url": "https://extra.example/simple",
        "trusted-host": "extra.example",
    }
    assert images.pip_index_config(
        files, {"PIP_INDEX_URL": "https://env.example/simple"}
    )["index-url"] == ("https://env.example/simple")
    assert images.pip_index_config([local_only], {}) == {}


def test_install_section_wins_over_global_in_any_file(tmp_path: Path) -> None:
    early = tmp_path / "early.conf"
    early.write_text("[install]\nindex-url = https://install.example/simple\n")
    late = tmp_path / "late.conf"
    late.write_text("[global]\nindex-url = https://global.example/simple\n")
    assert images.pip_index_config([early, late], {}) == {
        "index-url": "https://install.example/simple"
    }


def test_pip_conf_for_the_image_trusts_the_system_bundle() -> None:
    text = images.pip_conf_text({"index-url": "https://i.example/simple"})
    assert text == (
        "[global]\n"
        "cert = /etc/ssl/certs/ca-certificates.crt\n"
        "index-url = https://i.example/simple\n"
    )


def iptables(table: str, arguments: str) -> list[str]:
    return ["iptables", "-w", "-t", table, *arguments.split()]


def test_iptables_undo_removes_only_what_was_added() -> None:
    undo = [
        "-D DOCKER-USER -j RETURN",
        "-D DOCKER-ISOLATION-STAGE-1 -i mnistkde0 ! -o mnistkde0 -j DROP",
        "-D FORWARD -i mnistkde0 ! -o mnistkde0 -j ACCEPT",
        "-D FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "-D FORWARD -j DOCKER-USER",
        "-F DOCKER",
        "-F DOCKER-ISOLATION-STAGE-1",
        "-F DOCKER-USER",
        "-X DOCKER",
        "-X DOCKER-ISOLATION-STAGE-1",
        "-X DOCKER-USER",
    ]
    assert host.iptables_undo("filter", FILTER_BEFORE, FILTER_WITH_DOCKER) == [
        iptables("filter", command) for command in undo
    ]
    assert host.iptables_undo("filter", FILTER_BEFORE, FILTER_BEFORE) == []


def test_iptables_undo_counts_duplicate_rules() -> None:
    before = ["-P FORWARD ACCEPT", "-N DOCKER", "-A DOCKER -j RETURN"]
    now = [*before, "-A DOCKER -j RETURN"]
    assert host.iptables_undo("nat", before, now) == [
        iptables("nat", "-D DOCKER -j RETURN")
    ]


def test_forward_policy_is_read_from_the_rules() -> None:
    assert host.forward_policy(FILTER_WITH_DOCKER) == "DROP"
    assert host.forward_policy(FILTER_BEFORE) == "ACCEPT"


def gallery_zip(pngs: int, *, listing: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(pngs):
            archive.writestr(f"{index:03d}.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 8)
        if listing:
            archive.writestr("gallery.json", json.dumps({"n_images": pngs}))
    return buffer.getvalue()


def test_gallery_zip_check_accepts_a_whole_gallery() -> None:
    stack.check_gallery_zip(gallery_zip(4), 4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (gallery_zip(3), "holds 3 PNG images, expected 4"),
        (gallery_zip(4, listing=False), "not a valid gallery ZIP"),
        (b"<html>Server Error</html>", "not a valid gallery ZIP"),
    ],
    ids=["an image missing", "no gallery.json", "not a zip"],
)
def test_gallery_zip_check_refuses_a_wrong_download(
    content: bytes, message: str
) -> None:
    with pytest.raises(Failure, match=message):
        stack.check_gallery_zip(content, 4)


def test_stand_ins_cover_every_image_the_project_pulls() -> None:
    compose = load_yaml(REPO / "docker-compose.yml")
    pulled = {
        service["image"]
        for service in compose["services"].values()
        if "build" not in service
    }
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text().splitlines()
    pulled |= {line.split()[1] for line in dockerfile if line.startswith("FROM ")}
    tags = {tag for tag, _ in images.STAND_INS}
    assert pulled <= tags
    for _, directory in images.STAND_INS:
        assert (REPO / "deploy" / "ci" / "images" / directory / "Dockerfile").is_file()


def test_ci_override_publishes_no_port_and_names_its_bridge() -> None:
    override = load_yaml(REPO / "deploy" / "ci" / "docker-compose.ci.yml")
    assert set(override) == {"x-ci", "services", "networks"}
    assert set(override["services"]) == set(stack.APP_SERVICES)
    bridge = override["networks"]["default"]["driver_opts"]
    assert bridge == {"com.docker.network.bridge.name": host.COMPOSE_BRIDGE}
    for service in override["services"].values():
        assert set(service) <= {"environment", "volumes"}
    # Only web's and Flower's ports are published, and compose-smoke picks them
    # through PORT and FLOWER_PORT: the host's own PostgreSQL and Redis ports stay
    # untouched.
    compose = load_yaml(REPO / "docker-compose.yml")
    published = {
        name: service["ports"]
        for name, service in compose["services"].items()
        if "ports" in service
    }
    assert published == {
        "web": ["127.0.0.1:${PORT:-8000}:8000"],
        "flower": ["127.0.0.1:${FLOWER_PORT:-5555}:5555"],
    }
