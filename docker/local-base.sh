#!/usr/bin/env bash
# Builds, from Debian packages only, the images that docker/Dockerfile and docker/compose.yaml
# take from a registry, for machines that reach Debian's archive and PyPI but no image registry
# (this project's CI). Real installs pull the public images and need none of this.
#
#   localhost/hermod-base:bookworm      Debian bookworm minbase + python3 (3.11) + venv:
#                                       docker/Dockerfile's BASE instead of python:3.11-slim
#   localhost/hermod-services:bookworm  the same + PostgreSQL 15, Redis 7 and nginx: compose's
#                                       database, broker and proxies instead of postgres,
#                                       redis and nginx
#
# Usage: docker/local-base.sh [--force]   (root; needs debootstrap, podman and runc)
# An image already present is kept unless --force. About 2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"

BASE=localhost/hermod-base:bookworm
SERVICES=localhost/hermod-services:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
force=${1:-}

podman() { command podman --runtime "${PODMAN_RUNTIME:-/usr/sbin/runc}" "$@"; }

if [ "$force" = --force ] || ! podman image exists "$BASE"; then
  root=$(mktemp -d /var/tmp/hermod-base.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$MIRROR" \
    >"$root.log" 2>&1 || { tail -n 30 "$root.log"; exit 1; }
  rm -f "$root.log"
  # What a base image leaves out: package lists, caches, docs (python:3.11-slim does the same).
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/locale/* "$root"/var/cache/debconf/*-old "$root"/var/log/*.log
  tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

if [ "$force" = --force ] || ! podman image exists "$SERVICES"; then
  podman build ${force:+--no-cache} --network host --build-arg BASE="$BASE" -t "$SERVICES" \
    -f local/services.Containerfile local >/dev/null
fi
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'hermod-(base|services)'
