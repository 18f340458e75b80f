#!/bin/bash
# Build the small Debian VM the end-to-end installs run in, cached.
#
# Usage: build-image.sh CACHE_DIR WHEELS_DIR  -> prints the image directory on stdout
#
# The image directory (CACHE_DIR/image-KEY) holds vmlinuz, initrd.img and
# rootfs.img. KEY is a hash of this script, vm-init and the names of the
# dependency wheels, so the image is rebuilt only when one of them changes.
# The project's dependencies are installed into the image's venv here (pip
# under TCG costs a minute per run); each run adds only the project's wheel. No loop device is used: the root filesystem
# is made with `mkfs.ext4 -d` straight from the debootstrap tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../debootstrap-common.sh
. "$here/../debootstrap-common.sh"
cache=$(mkdir -p "$1" && cd "$1" && pwd)
wheels=$(cd "$2" && pwd)
deps=$(cd "$wheels" && ls -1 ./*.whl | grep -v '/nixos_tui_installer-' | sort)
key=$( (cat "$here/build-image.sh" "$here/vm-init" "$here/../debootstrap-common.sh"; echo "$deps") | sha256sum | cut -c1-16)
out="$cache/image-$key"

exec 9>"$cache/build.lock"
flock 9
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi

mirror=$(apt_mirror)

packages=(
	linux-image-amd64 initramfs-tools udev kmod
	python3 python3-venv
	cryptsetup-bin dosfstools e2fsprogs btrfs-progs xfsprogs
	util-linux mount fdisk gdisk parted libparted2 libudev1
	# The TPM2 unlock test (tests/vm/guest-tpm2.sh): systemd-cryptenroll, systemd-cryptsetup
	# and cryptsetup's systemd-tpm2 token plugin (Debian 12: all in systemd), and the
	# tpm2-tss libraries systemd loads on use (ESYS, its marshalling, return codes and the
	# /dev/tpmrm0 transport).
	systemd libtss2-esys-3.0.2-0 libtss2-mu0 libtss2-rc0 libtss2-tcti-device0 libtss2-tctildr0
	# The alongside-Windows test (tests/vm/guest-alongside.sh): ntfs-3g's mkntfs, FUSE mount
	# and ntfsresize (the installer shrinks with it); bootctl (Debian 12: in systemd-boot) and
	# the systemd-boot EFI binary its `install` copies, as NixOS's systemd-boot builder runs it.
	ntfs-3g systemd-boot systemd-boot-efi
	# The Wi-Fi run (guest-net.sh): two mac80211_hwsim radios, hostapd with a
	# WPA2-PSK network on one, NetworkManager (on the system bus) on the other,
	# dnsmasq handing out the address and openssl for the stand-in substituter.
	hostapd network-manager wpasupplicant iw wireless-regdb dbus dnsmasq-base iproute2 openssl
	# polkitd (network-manager needs it) depends on a logind, a virtual package debootstrap does not pick.
	libpam-systemd
)

work="$cache/build-$key.tmp"
trap 'unmount_tree || true' EXIT
unmount_tree
rm -rf "$work"
mkdir -p "$work" "$cache/debs"
root="$work/rootfs"
# A small initrd: only what finds an ext4 root on virtio. Set up before
# debootstrap so the kernel's own postinst builds it (once, and small).
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/etc/initramfs-tools/hooks"
printf 'MODULES=list\nCOMPRESS=gzip\n' >"$root/etc/initramfs-tools/conf.d/vm"
printf '%s\n' '#!/bin/sh' '[ "$1" = prereqs ] && exit 0' '. /usr/share/initramfs-tools/hook-functions' \
	'for m in virtio_pci virtio_blk ext4 crc32c_generic; do force_load "$m"; done' \
	>"$root/etc/initramfs-tools/hooks/vm"
chmod 0755 "$root/etc/initramfs-tools/hooks/vm"
{
	echo "building VM image $key from $mirror"
	debootstrap --variant=minbase --cache-dir="$cache/debs" \
		--include="$(IFS=,; echo "${packages[*]}")" \
		bookworm "$root" "$mirror"
} >&2

kver=$(basename "$(ls -d "$root"/lib/modules/*)")
initrd_files=$(chroot "$root" lsinitramfs "/boot/initrd.img-$kver")
if ! grep -q '/virtio_blk\.ko' <<<"$initrd_files"; then
	echo "the initrd lacks virtio_blk" >&2
	exit 1
fi

# The installer runs from a venv made here once; each run only adds wheels.
chroot "$root" python3 -m venv /opt/venv >&2
mkdir -p "$root/tmp/wheels"
(cd "$wheels" && cp $deps "$root/tmp/wheels/")
chroot "$root" /bin/sh -c 'cd /tmp/wheels && /opt/venv/bin/pip install -q --no-index --find-links . ./*.whl' >&2
rm -rf "$root/tmp/wheels"

install -m 0755 "$here/vm-init" "$root/sbin/vm-init"
mkdir -p "$root/share" "$root/mnt"
echo vmtest >"$root/etc/hostname"
: >"$root/etc/fstab"

cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"

unmount_tree

# Trim what a headless virtio guest never loads, then pack the tree.
rm -rf "$root"/usr/share/{doc,man,info,locale} "$root"/var/cache/apt/archives/*.deb "$root"/boot/*
# drivers/net/wireless/virtual stays: it holds mac80211_hwsim.
find "$root/lib/modules/$kver/kernel/drivers/net/wireless" -mindepth 1 -maxdepth 1 ! -name virtual -exec rm -rf {} +
for d in drivers/gpu drivers/media drivers/infiniband drivers/staging sound \
	drivers/bluetooth drivers/isdn drivers/input/touchscreen drivers/iio; do
	rm -rf "$root/lib/modules/$kver/kernel/$d"
done
chroot "$root" depmod -a "$kver" >&2
size_mib=$(($(du -sm "$root" | cut -f1) * 5 / 4 + 256))
mkfs.ext4 -q -F -L vmroot -d "$root" "$work/rootfs.img" "${size_mib}M" >&2
unmount_tree
rm -rf "$root"
touch "$work/done"
rm -rf "$out"
mv "$work" "$out"
# Older images are stale once the script changed.
find "$cache" -maxdepth 1 -name 'image-*' ! -name "image-$key" -exec rm -rf {} + 2>/dev/null || true
echo "$out"
