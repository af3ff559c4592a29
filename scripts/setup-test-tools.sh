#!/usr/bin/env bash
# Install the outside tools the test suite checks our output with, and configure podman for this
# machine. Idempotent: packages already installed are not reinstalled, config is rewritten identically.
#
#   scripts/setup-test-tools.sh          (as root, or with sudo available)
#
# Tools: skopeo (inspect/copy OCI layouts), umoci (unpack layouts), podman (load docker archives),
# runc/crun (OCI runtimes for the sandbox), docker-registry (a local registry), busybox-static (base
# images), pigz (gzip comparisons), apache2-utils (htpasswd for registry auth), zstd, tar, attr
# (setfattr: xattrs and overlay opaque markers when unpacking), bzip2 and xz-utils (ADD of such archives),
# slirp4netns (the default RUN network: its own namespace, outbound through a user-space NAT), docker.io
# (dockerd and the docker CLI: `--load` is tested against a private dockerd the test starts itself), tmux (the
# live progress view is checked on a real terminal, as a person would see it), uidmap (newuidmap/newgidmap:
# rootless builds map the user's subordinate ids), acl (setfacl: the rootless tests let their user read the
# checkout). It also makes the unprivileged user the rootless tests build as (tsbuild-rootless, with subordinate
# id ranges, as a laptop or CI user has them) and gives /dev/net/tun Debian's usual mode 0666, which a rootless
# RUN's network (slirp4netns, in the user's namespace) needs; some container images ship it 0600.
set -euo pipefail

PACKAGES=(skopeo umoci runc crun docker-registry busybox-static pigz apache2-utils podman buildah zstd tar attr bzip2 xz-utils slirp4netns docker.io tmux uidmap acl)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-test-tools: run as root (or install sudo)" >&2; exit 1; }
  SUDO=(sudo)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-test-tools: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup-test-tools: all packages present"
fi

# podman's default container rlimits (nofile 1048576) can exceed the host's hard limits, and then every
# container start fails. Pin them to what this machine allows. RLIMIT_NPROC at the host's hard limit is still
# refused inside the container here ("error setting rlimit type 6"), so it gets a modest fixed value. crun
# refuses this machine's hybrid cgroup layout, so podman is told to use runc.
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
conf_dir=/etc/containers/containers.conf.d
conf="$conf_dir/50-tsbuild-ulimits.conf"
content="# Written by tsbuild scripts/setup-test-tools.sh: podman's default rlimits exceed this host's.
[containers]
default_ulimits = [
  \"nofile=${nofile}:${nofile}\",
  \"nproc=${nproc}:${nproc}\",
]

[engine]
runtime = \"runc\"
"
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$(printf '%s' "$content")" ]; then
  "${SUDO[@]}" mkdir -p "$conf_dir"
  printf '%s' "$content" | "${SUDO[@]}" tee "$conf" >/dev/null
  echo "setup-test-tools: wrote $conf"
fi

ROOTLESS_USER=tsbuild-rootless
if ! id "$ROOTLESS_USER" >/dev/null 2>&1; then
  "${SUDO[@]}" useradd --create-home --shell /bin/sh "$ROOTLESS_USER"
  echo "setup-test-tools: created user $ROOTLESS_USER"
fi
for file in /etc/subuid /etc/subgid; do
  if ! grep -q "^$ROOTLESS_USER:" "$file" 2>/dev/null; then
    echo "$ROOTLESS_USER:1500000:65536" | "${SUDO[@]}" tee -a "$file" >/dev/null
    echo "setup-test-tools: gave $ROOTLESS_USER a range in $file"
  fi
done
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  "${SUDO[@]}" chmod 0666 /dev/net/tun
  echo "setup-test-tools: /dev/net/tun made 0666"
fi

for tool in skopeo umoci podman buildah runc zstd tar slirp4netns newuidmap setfacl; do
  command -v "$tool" >/dev/null || { echo "setup-test-tools: $tool still missing" >&2; exit 1; }
done
echo "setup-test-tools: ok"
