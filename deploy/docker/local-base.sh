#!/usr/bin/env bash
# Builds a local stand-in for the Dockerfile's base image, `node:20-bookworm-slim`, on a machine that cannot
# pull from Docker Hub (this project's CI reaches only Debian's mirror and the npm registry): a Debian bookworm
# minbase from debootstrap, with this machine's Node.js 20 and npm laid out as the official image lays them out
# (/usr/local/bin/node, /usr/local/lib/node_modules/npm). Tagged docker.io/library/node:20-bookworm-slim, so
# `podman build --pull=never` (or docker) builds deploy/docker/Dockerfile unchanged.
#   deploy/docker/local-base.sh [engine]    (engine: podman, the default, or docker)
set -euo pipefail
engine="${1:-podman}"
tag="docker.io/library/node:20-bookworm-slim"
if "$engine" image inspect "$tag" >/dev/null 2>&1; then echo "$tag: already present"; exit 0; fi

node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
[ "$major" = 20 ] || { echo "local-base.sh: this machine's Node.js is $("$node_bin" --version), the image needs 20" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
# The headers node-gyp builds native addons against (the official image has them at /usr/local/include/node).
headers="$(dirname "$(dirname "$node_bin")")/include/node"
[ -f "$headers/node.h" ] || { echo "local-base.sh: no Node.js headers at $headers" >&2; exit 1; }
mkdir -p "$root/usr/local/include"
cp -a "$headers" "$root/usr/local/include/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
find "$root/var/cache/apt/archives" "$root/var/lib/apt/lists" -type f -delete
tar -C "$root" -cf "$work/rootfs.tar" .
"$engine" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' "$work/rootfs.tar" "$tag" >/dev/null
echo "$tag: built from debootstrap bookworm and Node.js $("$node_bin" --version)"
