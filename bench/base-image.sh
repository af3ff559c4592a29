#!/usr/bin/env bash
# The benchmarks' base image, made without internet: Debian's static busybox with its applet links,
# /etc/passwd and /etc/group, packed by umoci into an OCI layout tagged "latest" (one ~1 MB layer, fixed
# timestamps), then optionally pushed to a registry with skopeo.
#
#   bench/base-image.sh LAYOUT_DIR [REGISTRY_REF]
#     e.g. bench/base-image.sh /tmp/bench/busybox-oci 127.0.0.1:5000/busybox:latest
#
# Same logic as ../shared/tools/make-base-images.sh (busybox part), kept here so bench/ stands alone.
set -euo pipefail

layout="${1:?usage: base-image.sh LAYOUT_DIR [REGISTRY_REF]}"
ref="${2:-}"
CREATED="2024-01-01T00:00:00Z"
EPOCH=1704067200

for t in umoci tar file; do command -v "$t" >/dev/null || { echo "base-image.sh: missing $t" >&2; exit 1; }; done
bb=/bin/busybox
[ -x "$bb" ] && file -L "$bb" | grep -q 'statically linked' || {
  echo "base-image.sh: need a static /bin/busybox (apt-get install busybox-static)" >&2
  exit 1
}

if ! { [ -f "$layout/index.json" ] && grep -q '"org.opencontainers.image.ref.name":"latest"' "$layout/index.json"; }; then
  work="$(mktemp -d "${TMPDIR:-/tmp}/bench-base.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  r="$work/rootfs"
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var,dev,proc,sys,home}
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root"
  install -m 0755 "$bb" "$r/bin/busybox"
  "$bb" --list-full | while read -r p; do
    [ "$p" = "bin/busybox" ] && continue
    mkdir -p "$r/$(dirname "$p")"
    ln -sf /bin/busybox "$r/$p"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  chown -R 0:0 "$r"

  rm -rf "$layout"
  mkdir -p "$(dirname "$layout")"
  umoci init --layout "$layout"
  umoci new --image "$layout:latest"
  umoci unpack --image "$layout:latest" "$work/bundle"
  (cd "$r" && tar -cf - --numeric-owner .) | (cd "$work/bundle/rootfs" && tar -xpf - --numeric-owner)
  find "$work/bundle/rootfs" -exec touch -h -d "@$EPOCH" {} + 2>/dev/null || true
  umoci repack --image "$layout:latest" --history.created "$CREATED" \
    --history.created_by "bench base image: busybox-static" "$work/bundle"
  umoci config --image "$layout:latest" --created "$CREATED" --os linux --architecture amd64 \
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.cmd sh --no-history
  umoci gc --layout "$layout"
fi

if [ -n "$ref" ]; then
  command -v skopeo >/dev/null || { echo "base-image.sh: missing skopeo" >&2; exit 1; }
  skopeo copy --quiet --dest-tls-verify=false "oci:$layout:latest" "docker://$ref"
fi
