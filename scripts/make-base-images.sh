#!/usr/bin/env bash
# Build base images without internet (Debian's apt mirror aside), for tests and benchmarks, as OCI image layouts
# tagged "latest", packed by umoci with fixed timestamps:
#
#   scripts/make-base-images.sh OUTDIR [busybox|debian|all]   (default busybox)
#     OUTDIR/busybox-oci   a static busybox (Debian's busybox-static) with its applet symlinks, /etc/passwd and
#                          /etc/group (~1 MB, linux/amd64, CMD ["sh"])
#     OUTDIR/debian-oci    `debootstrap --variant=minbase bookworm` from apt's configured mirror, apt lists and
#                          caches dropped (~120 MB unpacked in ~6,000 files, CMD ["bash"]): the realistic base
#
# Idempotent and safe to run concurrently (several test workers at once): each layout is built in a private
# temp dir and renamed into place; an existing layout with a "latest" tag is left alone (FORCE=1 rebuilds).
set -euo pipefail

OUT="${1:?usage: make-base-images.sh OUTDIR [busybox|debian|all]}"
WHAT="${2:-busybox}"
CREATED="2024-01-01T00:00:00Z"
EPOCH=1704067200
FORCE="${FORCE:-0}"

have_latest() { [ -f "$1/index.json" ] && grep -q '"org.opencontainers.image.ref.name":"latest"' "$1/index.json"; }
need() { command -v "$1" >/dev/null || { echo "make-base-images: missing tool $1 (apt-get install $1)" >&2; exit 1; }; }

# pack_rootfs ROOTFS WORK CMD → WORK/layout: the tree as the one layer of a new image (owners, modes, links kept).
pack_rootfs() {
  local rootfs="$1" work="$2" cmd="$3"
  local layout="$work/layout" bundle="$work/bundle"
  umoci init --layout "$layout"
  umoci new --image "$layout:latest"
  umoci unpack --image "$layout:latest" "$bundle" >/dev/null 2>&1 || umoci unpack --rootless --image "$layout:latest" "$bundle"
  (cd "$rootfs" && tar -cf - --numeric-owner .) | (cd "$bundle/rootfs" && tar -xpf - --numeric-owner)
  find "$bundle/rootfs" -exec touch -h -d "@$EPOCH" {} + 2>/dev/null || true
  umoci repack --image "$layout:latest" --history.created "$CREATED" --history.created_by "$cmd rootfs" "$bundle"
  umoci config --image "$layout:latest" --created "$CREATED" --os linux --architecture amd64 \
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.cmd "$cmd" --no-history
  umoci gc --layout "$layout"
}

# publish WORK/layout FINAL: atomically; if another process got there first, keep theirs.
publish() {
  local layout="$1" final="$2"
  if [ "$FORCE" = 1 ]; then rm -rf "$final"; fi
  if ! mv -T "$layout" "$final" 2>/dev/null; then
    have_latest "$final" || { echo "make-base-images: could not publish $final" >&2; exit 1; }
  fi
  echo "$final"
}

make_busybox() {
  local final="$OUT/busybox-oci"
  if [ "$FORCE" != 1 ] && have_latest "$final"; then echo "$final"; return; fi
  need umoci
  local bb=/bin/busybox
  if ! [ -x "$bb" ] || ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
    echo "make-base-images: need a static /bin/busybox (apt-get install busybox-static)" >&2
    exit 1
  fi
  local work; work="$(mktemp -d "$OUT/.busybox-work.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" RETURN
  # The root filesystem: busybox and every applet as a symlink to it (what `busybox --install -s` does).
  local r="$work/rootfs"
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
  chown -R 0:0 "$r" 2>/dev/null || true
  pack_rootfs "$r" "$work" sh
  publish "$work/layout" "$final"
}

# The first "URIs:" (deb822) or "deb URL" (one-line) of apt's configured sources, security updates aside.
apt_mirror() {
  local m
  m=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$m" ] || m=$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  echo "$m"
}

make_debian() {
  local final="$OUT/debian-oci"
  if [ "$FORCE" != 1 ] && have_latest "$final"; then echo "$final"; return; fi
  need umoci
  need debootstrap
  local mirror; mirror="$(apt_mirror)"
  [ -n "$mirror" ] || { echo "make-base-images: no apt mirror found in /etc/apt/sources.list*" >&2; exit 1; }
  local work; work="$(mktemp -d "$OUT/.debian-work.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" RETURN
  local r="$work/rootfs"
  echo "make-base-images: debootstrap --variant=minbase bookworm from $mirror" >&2
  debootstrap --variant=minbase bookworm "$r" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # What a published debian image leaves out: apt lists and caches, logs, debootstrap's own leftovers.
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/var/log/* "$r"/debootstrap
  pack_rootfs "$r" "$work" bash
  publish "$work/layout" "$final"
}

mkdir -p "$OUT"
case "$WHAT" in
  busybox) make_busybox ;;
  debian) make_debian ;;
  all) make_busybox; make_debian ;;
  *) echo "usage: $0 OUTDIR [busybox|debian|all]" >&2; exit 2 ;;
esac
