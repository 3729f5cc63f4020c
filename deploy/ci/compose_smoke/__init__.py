"""Bring the project's real Compose stack up on this machine and exercise it (CI only).

Run as root: deploy/ci/compose-smoke [--cold]. The steps, each timed:

1. Install Debian's docker.io, docker-compose and debootstrap when missing.
2. Record what the engine changes on the host (net.ipv4.ip_forward, the iptables
   rules, chains and FORWARD policy, the network links), then start a private
   dockerd with its own data root, exec root, pidfile, socket, bridges and
   containerd namespace, so that a user's own daemon is untouched. If it does
   not start, the run fails, loudly.
3. Base images, since no registry is reachable: debootstrap --variant=minbase
   bookworm from the Debian mirror apt on this machine uses, docker import, then
   the stand-ins tagged python:3.11-slim, postgres:16 and redis:7
   (deploy/ci/images/). They stay in the data root, outside the clone; whatever
   is missing is built (--cold: all of it).
4. docker-compose config, build and up -d with docker-compose.yml and
   deploy/ci/docker-compose.ci.yml; wait until every container runs and every
   healthcheck passes, and check from the engine's events that the app services
   started only after db and redis were healthy.
5. Over the REST API, from the host: sign up, train with the preview preset,
   generate a gallery and check its ZIP, check /healthz and /readyz; the
   workers' JSON log lines name the jobs; Flower refuses a visitor without the
   password and shows the three worker nodes to the operator.
6. Restart the worker-training service in the middle of a training run; the run
   must still succeed, with exactly one model version.
7. Whatever happened before: down -v, remove the project's image, stop dockerd by
   its pid, put the host back as recorded.

On a failure it prints the tail of docker-compose logs and exits 1.
"""
