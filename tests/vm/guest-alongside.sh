#!/bin/bash
# In-VM entry point of the alongside-Windows test (run by vm-init as /share/guest.sh).
# Lays the target disk out as Windows' installer does (GPT: a 100 MiB ESP holding
# EFI/Microsoft/Boot, a 16 MiB MSR, the rest NTFS holding files), with the bytes,
# names, serial and PARTUUIDs the host chose (input/), then installs unattended with
# layout = "alongside" (input/answers.toml) through the nixos-install stand-in, which
# installs systemd-boot as nixpkgs' builder does (STANDIN_BOOT_FILES=1: the real
# bootctl install, then kernels and entries on the XBOOTLDR partition). Afterwards it
# records, for the host to judge: the ESP's and the NTFS volume's files with their
# sha256, ntfsresize's check, the XBOOTLDR partition's files and entries, and what
# bootctl says of the ESP at /mnt/efi and XBOOTLDR at /mnt/boot.
set -u
S=/share
R=$S/results
IN=$S/input
D=/dev/disk/by-id/virtio-target0
T=/mnt
mark() { echo "=== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }
part() { echo "$D-part$1"; }

# ntfs-3g's FUSE daemon lets go of the device only after umount returns.
unmount_ntfs() {
	umount "$1"
	for _ in $(seq 100); do
		grep -qx ntfs-3g /proc/[0-9]*/comm 2>/dev/null || return 0
		sleep 0.1
	done
	echo "ntfs-3g still running after umount $1"
}

# path<TAB>sha256 of every file under $1, relative to it, sorted.
sums() {
	(cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do
		printf '%s\t%s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
	done)
}

mark start
modprobe vfat
modprobe fuse
mark windows
sgdisk -o -n1:2048:+100M -t1:EF00 -c1:"EFI system partition" -u1:"$(cat "$IN/esp-partuuid")" \
	-n2:0:+16M -t2:E3C9E316-0B5C-4DB8-817D-F92DF00215AE -c2:"Microsoft reserved partition" \
	-n3:0:0 -t3:EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 -c3:"Basic data partition" -u3:"$(cat "$IN/ntfs-partuuid")" \
	"$D" >"$R/sgdisk-windows.log" 2>&1 || { echo "sgdisk failed"; cat "$R/sgdisk-windows.log"; exit 11; }
udevadm settle --timeout=60
for n in 1 2 3; do
	for _ in $(seq 100); do [ -e "$(part $n)" ] && break; sleep 0.1; done
done
mkfs.fat -F 32 -n SYSTEM -i "$(cat "$IN/esp-serial")" "$(part 1)" >"$R/mkfs-esp.log" 2>&1 || exit 12
mkdir -p /tmp/esp /tmp/win
mount -t vfat "$(part 1)" /tmp/esp && cp -r "$IN/esp/." /tmp/esp/ && umount /tmp/esp || exit 13
mkntfs -Q -F -L Windows "$(part 3)" >"$R/mkntfs.log" 2>&1 || { cat "$R/mkntfs.log"; exit 14; }
ntfs-3g "$(part 3)" /tmp/win && cp -r "$IN/ntfs/." /tmp/win/ && unmount_ntfs /tmp/win || exit 15
sync
# The installer's probe reads udev's view: let it see the new filesystems.
udevadm trigger --action=change --sysname-match="$(basename "$(readlink -f "$D")")*"
udevadm settle --timeout=60
for n in 1 2 3; do echo "# part$n"; blkid -p -o export "$(part $n)"; done >"$R/blkid-before" 2>&1
sgdisk -p "$D" >"$R/table-before" 2>&1

mark pip
/opt/venv/bin/pip install -q --no-index --no-deps "$S"/wheels/nixos_tui_installer-*.whl \
	>"$R/pip.log" 2>&1 || { echo "pip install failed"; cat "$R/pip.log"; exit 10; }

mark install
STANDIN_BOOT_FILES=1 /opt/venv/bin/nixos-tui-installer --answers "$IN/answers.toml" --yes --skip-eval --target "$T" \
	--nixos-install "$S/standins/nixos-install" --nixos-enter "$S/standins/nixos-enter" \
	--log "$R/install.log" >"$R/cli.out" 2>&1 </dev/null
echo $? >"$R/cli.rc"

mark installed
udevadm settle --timeout=60
sgdisk -p "$D" >"$R/table-after" 2>&1
for p in "$D"-part*; do echo "# ${p##*-}"; blkid -p -o export "$p"; done >"$R/blkid-after" 2>&1
cat /proc/self/mountinfo >"$R/mountinfo-after"
# The installed system as NixOS mounts it (its fstab-to-be): root, the XBOOTLDR
# partition at /boot, the ESP at /efi; whatever the installer left unmounted.
xbl=$(blkid -c /dev/null -t PARTLABEL=XBOOTLDR -o device "$D"-part* | head -1)
rootdev=$(blkid -c /dev/null -t PARTLABEL=nixos -o device "$D"-part* | head -1)
mountpoint -q "$T" || mount -o ro "$rootdev" "$T"
mountpoint -q "$T/boot" || mount -t vfat -o ro "$xbl" "$T/boot"
mountpoint -q "$T/efi" || mount -t vfat -o ro "$(part 1)" "$T/efi"
mkdir -p "$R/target-etc-nixos" "$R/boot-loader"
cp -r "$T/etc/nixos/." "$R/target-etc-nixos/"
sums "$T/efi" >"$R/esp-after"
sums "$T/boot" >"$R/xbootldr-after"
cp -r "$T/boot/loader/entries" "$R/boot-loader/" 2>/dev/null
cp "$T/efi/loader/loader.conf" "$R/boot-loader/" 2>/dev/null
ls -la --time-style=+ "$T/efi" "$T/boot" >"$R/boot-dirs" 2>&1

mark bootctl
# Run as NixOS's builder names them (--esp-path/--boot-path), with the target's prefix.
bootctl --no-pager --esp-path="$T/efi" --boot-path="$T/boot" status >"$R/bootctl-status" 2>&1
echo $? >"$R/bootctl-status.rc"
bootctl --no-pager --esp-path="$T/efi" --boot-path="$T/boot" list >"$R/bootctl-list" 2>&1
echo $? >"$R/bootctl-list.rc"

mark ntfs
umount -R "$T" 2>/dev/null
# --force: ntfsresize marks every volume it resized for chkdsk at Windows' next start, and
# without it refuses such a volume before checking it (as the installer's own check does).
ntfsresize --info --force --no-action --no-progress-bar "$(part 3)" >"$R/ntfsresize-info" 2>&1
echo $? >"$R/ntfsresize-info.rc"
ntfs-3g -o ro "$(part 3)" /tmp/win && { sums /tmp/win >"$R/ntfs-after"; unmount_ntfs /tmp/win; }
sync
mark done
exit 0
