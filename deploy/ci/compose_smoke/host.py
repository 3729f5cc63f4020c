"""The host and the engine: what dockerd changes on the host, recorded and put
back; our own dockerd, started and stopped by its pid."""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_smoke.common import RUN_DIR, STATE_DIR, Failure, output, run, say, tail

DATA_ROOT = STATE_DIR / "docker"
DOCKERD_LOG = STATE_DIR / "dockerd.log"
SOCKET = RUN_DIR / "docker.sock"
PIDFILE = RUN_DIR / "docker.pid"
DOCKER_HOST = f"unix://{SOCKET}"
# The engine's default bridge (image builds) and the compose network's bridge
# (named in docker-compose.ci.yml): the only links the cleanup may delete.
BRIDGE = "mnistkde0"
COMPOSE_BRIDGE = "mnistkde1"
BRIDGE_CANDIDATES = ("172.31.250.0/24", "10.213.250.0/24", "192.168.250.0/24")
IPTABLES_TABLES = ("filter", "nat")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
ENGINE_START_TIMEOUT = 60.0
ENGINE_STOP_TIMEOUT = 60.0


@dataclass
class HostState:
    """What dockerd changes on the host, recorded before it starts."""

    ip_forward: str
    forward_policy: str
    rules: dict[str, list[str]]
    links: list[str]

    @classmethod
    def record(cls) -> HostState:
        rules = {table: iptables_rules(table) for table in IPTABLES_TABLES}
        return cls(
            ip_forward=IP_FORWARD.read_text().strip(),
            forward_policy=forward_policy(rules["filter"]),
            rules=rules,
            links=network_links(),
        )


def iptables_rules(table: str) -> list[str]:
    return output(["iptables", "-w", "-t", table, "-S"]).splitlines()


def forward_policy(filter_rules: Sequence[str]) -> str:
    for line in filter_rules:
        if line.split()[:2] == ["-P", "FORWARD"]:
            return line.split()[2]
    return "ACCEPT"


def network_links() -> list[str]:
    links = json.loads(output(["ip", "-json", "link", "show"]))
    return sorted(link["ifname"] for link in links)


def iptables_undo(
    table: str, before: Sequence[str], now: Sequence[str]
) -> list[list[str]]:
    """The iptables commands that remove the rules and chains added since ``before``.

    ``before`` and ``now`` are ``iptables -S`` lines. Rules are matched counting
    duplicates and deleted newest first; chains that are new are then flushed and
    deleted (after the rules jumping to them are gone).
    """
    remaining = collections.Counter(before)
    added_rules: list[str] = []
    added_chains: list[str] = []
    for line in now:
        if remaining[line]:
            remaining[line] -= 1
        elif line.startswith("-A "):
            added_rules.append(line)
        elif line.startswith("-N "):
            added_chains.append(line.split()[1])
    prefix = ["iptables", "-w", "-t", table]
    commands = [
        [*prefix, "-D", *shlex.split(line)[1:]] for line in reversed(added_rules)
    ]
    commands += [[*prefix, "-F", chain] for chain in added_chains]
    commands += [[*prefix, "-X", chain] for chain in added_chains]
    return commands


def restore_host(saved: HostState) -> None:
    """Put back forwarding, the FORWARD policy, iptables and the network links."""
    for table in IPTABLES_TABLES:
        for command in iptables_undo(table, saved.rules[table], iptables_rules(table)):
            run(command)
    run(["iptables", "-w", "-P", "FORWARD", saved.forward_policy])
    IP_FORWARD.write_text(saved.ip_forward + "\n")
    # The engine keeps the compose network's bridge when it stops (and a killed
    # run leaves both).
    for link in sorted(set(network_links()) - set(saved.links)):
        if link in (BRIDGE, COMPOSE_BRIDGE):
            run(["ip", "link", "delete", link])
    say(
        f"host restored: net.ipv4.ip_forward={saved.ip_forward}, FORWARD policy "
        f"{saved.forward_policy}, iptables rules and chains as before, no "
        f"{BRIDGE} or {COMPOSE_BRIDGE}"
    )


# --- The engine ----------------------------------------------------------------------


def docker_env() -> dict[str, str]:
    """A fixed environment: nothing from the caller's shell (SECRET_KEY, DEBUG...)
    leaks into the compose file's ${...} values."""
    return {
        # Debian's docker client (docker-compose builds with it) before any other.
        "PATH": f"/usr/bin:{os.environ.get('PATH', '/usr/sbin:/sbin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "DOCKER_HOST": DOCKER_HOST,
    }


def docker(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], env=docker_env(), **kwargs)


def engine_answers() -> bool:
    return docker("version", capture=True, check=False, timeout=10).returncode == 0


def bridge_network() -> ipaddress.IPv4Network:
    routes = json.loads(output(["ip", "-json", "-4", "route", "show"]))
    used = [
        ipaddress.ip_network(route["dst"], strict=False)
        for route in routes
        if route["dst"] != "default"
    ]
    for candidate in map(ipaddress.IPv4Network, BRIDGE_CANDIDATES):
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise Failure(
        f"every candidate network for {BRIDGE} is in use: {BRIDGE_CANDIDATES}"
    )


def default_mtu() -> int:
    routes = json.loads(output(["ip", "-json", "-4", "route", "show", "default"]))
    if not routes:
        return 1500
    link = json.loads(output(["ip", "-json", "link", "show", routes[0]["dev"]]))
    return int(link[0]["mtu"])


def start_engine() -> int:
    """Start our own dockerd in the background and return its pid; fail loudly."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    config = RUN_DIR / "daemon.json"
    # Our own (empty) configuration, not a user's /etc/docker/daemon.json.
    config.write_text("{}\n")
    network, mtu = bridge_network(), default_mtu()
    run(["ip", "link", "add", "name", BRIDGE, "mtu", str(mtu), "type", "bridge"])
    run(
        [
            "ip",
            "address",
            "add",
            f"{next(network.hosts())}/{network.prefixlen}",
            "dev",
            BRIDGE,
        ]
    )
    run(["ip", "link", "set", BRIDGE, "up"])
    argv = [
        "dockerd",
        f"--config-file={config}",
        f"--data-root={DATA_ROOT}",
        f"--exec-root={RUN_DIR / 'exec'}",
        f"--pidfile={PIDFILE}",
        f"--host={DOCKER_HOST}",
        f"--bridge={BRIDGE}",
        # The host's MTU: with a larger one, big TLS packets vanish on the way out.
        f"--mtu={mtu}",
        # Apart from a user's daemon even if both end up on one system containerd.
        "--containerd-namespace=mnist-kde-ci",
        "--containerd-plugins-namespace=mnist-kde-ci-plugins",
    ]
    print(f"$ {shlex.join(argv)} >{DOCKERD_LOG} 2>&1 &", flush=True)
    with DOCKERD_LOG.open("wb") as log:
        engine = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + ENGINE_START_TIMEOUT
    while not engine_answers():
        if engine.poll() is not None or time.monotonic() > deadline:
            if engine.returncode is None:
                state = f"did not answer within {ENGINE_START_TIMEOUT:.0f} s"
                stop_engine(engine.pid)
            else:
                state = f"exited with status {engine.returncode}"
            raise Failure(
                "THE CONTAINER ENGINE COULD NOT START ON THIS MACHINE: dockerd "
                f"{state}. The compose smoke test needs it and is not skipped. "
                f"Last lines of {DOCKERD_LOG}:\n{tail(DOCKERD_LOG)}"
            )
        time.sleep(0.5)
    version = docker("version", "--format", "{{.Server.Version}}", capture=True)
    say(f"dockerd {version.stdout.strip()} is up: pid {engine.pid}, {DOCKER_HOST}")
    return engine.pid


def stop_engine(pid: int) -> None:
    """SIGTERM the daemon (it stops its containers and containerd); SIGKILL if stuck."""
    say(f"stopping dockerd, pid {pid}")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + ENGINE_STOP_TIMEOUT
    while process_alive(pid):
        if time.monotonic() > deadline:
            say(f"dockerd did not stop within {ENGINE_STOP_TIMEOUT:.0f} s: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        # Reap it when it is our child.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def process_alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z"


def leftover_engine() -> int | None:
    """The pid of the dockerd an earlier, killed run left running, if any."""
    try:
        pid = int(PIDFILE.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if f"--host={DOCKER_HOST}".encode() in cmdline else None


def unmount_under(*roots: Path) -> None:
    """Unmount whatever is mounted at or below these directories, deepest first."""
    prefixes = tuple(f"{root}/" for root in roots)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted(mounts, key=len, reverse=True):
        if f"{mount}/".startswith(prefixes):
            run(["umount", "--lazy", mount])


def unmount_leftovers() -> None:
    # dockerd unmounts its overlays and network namespaces when it stops cleanly,
    # debootstrap its /proc and /sys when it ends.
    unmount_under(STATE_DIR, RUN_DIR)
