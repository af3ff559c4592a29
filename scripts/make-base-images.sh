#!/usr/bin/env bash
# Build small base images without internet, for tests: a static busybox (Debian's busybox-static) with its
# applet symlinks, /etc/passwd and /etc/group, packed by umoci into an OCI image layout tagged "latest".
#
#   scripts/make-base-images.sh OUTDIR        → OUTDIR/busybox-oci   (~1 MB, linux/amd64, CMD ["sh"])
#
# Idempotent and safe to run concurrently (several test workers at once): the layout is built in a private
# temp dir and renamed into place; an existing layout with a "latest" tag is left alone (FORCE=1 rebuilds).
# Timestamps are fixed so the layer digest only changes when busybox does.
set -euo pipefail

OUT="${1:?usage: make-base-images.sh OUTDIR}"
CREATED="2024-01-01T00:00:00Z"
EPOCH=1704067200
FORCE="${FORCE:-0}"
LAYOUT="$OUT/busybox-oci"

have_latest() { [ -f "$1/index.json" ] && grep -q '"org.opencontainers.image.ref.name":"latest"' "$1/index.json"; }
need() { command -v "$1" >/dev/null || { echo "make-base-images: missing tool $1 (scripts/setup-test-tools.sh installs it)" >&2; exit 1; }; }

if [ "$FORCE" != 1 ] && have_latest "$LAYOUT"; then echo "$LAYOUT"; exit 0; fi
need umoci
BB=/bin/busybox
if ! [ -x "$BB" ] || ! file -L "$BB" 2>/dev/null | grep -q 'statically linked'; then
  echo "make-base-images: need a static /bin/busybox (apt-get install busybox-static)" >&2
  exit 1
fi

mkdir -p "$OUT"
WORK="$(mktemp -d "$OUT/.busybox-work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# The root filesystem: busybox and every applet as a symlink to it (what `busybox --install -s` does).
r="$WORK/rootfs"
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var,dev,proc,sys,home}
chmod 1777 "$r/tmp"
chmod 700 "$r/root"
install -m 0755 "$BB" "$r/bin/busybox"
"$BB" --list-full | while read -r p; do
  [ "$p" = "bin/busybox" ] && continue
  mkdir -p "$r/$(dirname "$p")"
  ln -sf /bin/busybox "$r/$p"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
chown -R 0:0 "$r" 2>/dev/null || true

# One layer, packed by umoci: init an empty image, unpack it to get a bundle, fill the bundle, repack.
layout="$WORK/busybox-oci"
bundle="$WORK/bundle"
umoci init --layout "$layout"
umoci new --image "$layout:latest"
umoci unpack --image "$layout:latest" "$bundle" >/dev/null 2>&1 || umoci unpack --rootless --image "$layout:latest" "$bundle"
(cd "$r" && tar -cf - --numeric-owner .) | (cd "$bundle/rootfs" && tar -xpf - --numeric-owner)
find "$bundle/rootfs" -exec touch -h -d "@$EPOCH" {} + 2>/dev/null || true
umoci repack --image "$layout:latest" --history.created "$CREATED" --history.created_by "busybox rootfs" "$bundle"
umoci config --image "$layout:latest" --created "$CREATED" --os linux --architecture amd64 \
  --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --config.cmd sh --no-history
umoci gc --layout "$layout"

# Publish atomically; if another process got there first, keep theirs.
if [ "$FORCE" = 1 ]; then rm -rf "$LAYOUT"; fi
if ! mv -T "$layout" "$LAYOUT" 2>/dev/null; then
  have_latest "$LAYOUT" || { echo "make-base-images: could not publish $LAYOUT" >&2; exit 1; }
fi
echo "$LAYOUT"
