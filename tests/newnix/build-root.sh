#!/bin/bash
# Build the Debian 13 (trixie) root whose Nix 2.26 the tests run, cached.
#
# Usage: build-root.sh [CACHE_DIR]  -> prints the root's directory on stdout
#
# Debian 12's nix-bin is 2.8; nixpkgs refuses Nix older than 2.18
# (lib/minver.nix). Debian 13 ships 2.26, so a minbase trixie tree with nix-bin
# is debootstrapped once from the mirror apt already uses. CACHE_DIR/root-KEY
# holds it; KEY is a hash of this script, so the root is rebuilt only when this
# recipe changes. The shims in bin/ (see run) use the root without chroot.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../debootstrap-common.sh
. "$here/../debootstrap-common.sh"
cache=$(mkdir -p "${1:-$here/cache}" && cd "${1:-$here/cache}" && pwd)
key=$(cat "$here/build-root.sh" "$here/../debootstrap-common.sh" | sha256sum | cut -c1-16)
out="$cache/root-$key"

exec 9>"$cache/build.lock"
flock 9
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "building the Nix 2.26 root needs root (debootstrap): sudo $here/build-root.sh" >&2
	exit 1
fi

mirror=$(apt_mirror)

work="$cache/build-$key.tmp"
trap 'unmount_tree || true' EXIT
unmount_tree
rm -rf "$work"
mkdir -p "$work" "$cache/debs"
root="$work/root"
{
	echo "building the Nix 2.26 root $key from $mirror"
	# debootstrap does not resolve virtual packages: libdbi-perl provides
	# perl-dbdabi-94, which nix-bin's libdbd-sqlite3-perl needs.
	debootstrap --variant=minbase --cache-dir="$cache/debs" --include=nix-bin,libdbi-perl \
		trixie "$root" "$mirror"
} >&2
unmount_tree

# Nix runs with the host's /etc (see run), so its settings come from here via
# NIX_CONF_DIR. Nothing is built or fetched: no build users, no sandbox, no
# substituters and no global flake registry (it would be downloaded).
mkdir -p "$root/etc/nix"
cat >"$root/etc/nix/nix.conf" <<'CONF'
experimental-features = nix-command flakes
build-users-group =
sandbox = false
substituters =
flake-registry =
warn-dirty = false
CONF
mkdir -p "$root/nix/store" "$root/nix/var/nix"
rm -rf "$root"/usr/share/{doc,man,info,locale} "$root"/var/cache/apt/archives/*.deb

touch "$work/done"
rm -rf "$out"
mv "$work" "$out"
# Checked through the shims, the way the tests will run it.
version=$("$here/bin/nix-instantiate" --version) || version="no working nix-instantiate"
case "$version" in
*" 2.26."*) ;;
*)
	echo "the trixie root gives $version, not Nix 2.26" >&2
	rm -rf "$out"
	exit 1
	;;
esac
# Older roots are stale once the recipe changed.
find "$cache" -maxdepth 1 -name 'root-*' ! -name "root-$key" -exec rm -rf {} + 2>/dev/null || true
echo "$out"
