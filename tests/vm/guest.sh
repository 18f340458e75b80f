#!/bin/bash
# In-VM entry point, run by vm-init from the 9p share. Installs the project's
# wheels, runs the real CLI unattended from /share/input/answers.toml, and
# records what the host cannot see (the inside of LUKS, what was mounted,
# the files written into the target) under /share/results.
#
# Never echo the passphrase: /share/input/passphrase is only ever handed to
# tools as a file, and the host greps every result for it.
set -u
S=/share
R=$S/results
IN=$S/input
mkdir -p "$R"
seed=$(cat "$IN/seed")
T=/mnt
mark() { echo "=== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }

mark start
# Test-only: a cheaper argon2id for luksFormat, from a cryptsetup first on
# PATH that adds --pbkdf-memory/--iter-time. The installer's own arguments
# (the product's defaults) stay as they are; the host checks both: the plan
# names no KDF option, the LUKS header has this memory cost.
if [ -s "$IN/pbkdf-memory" ]; then
	real=$(command -v cryptsetup)
	memory=$(cat "$IN/pbkdf-memory")
	mkdir -p /tmp/shim
	cat >/tmp/shim/cryptsetup <<SHIM
#!/bin/sh
for arg in "\$@"; do
	[ "\$arg" = luksFormat ] && exec $real --pbkdf-memory $memory --iter-time 100 "\$@"
done
exec $real "\$@"
SHIM
	chmod 0755 /tmp/shim/cryptsetup
	export PATH=/tmp/shim:$PATH
fi
if [ -d /sys/firmware/efi ]; then echo uefi >"$R/firmware"; else echo bios >"$R/firmware"; fi
uname -r >"$R/kernel"
ls -l /dev/disk/by-id/ >"$R/by-id.txt" 2>&1

mark pip
# The image's venv already holds the dependencies, installed from the same
# wheel set (a new dependency changes the set and rebuilds the image); only
# the project's own wheel is new, and pip resolving under TCG costs a minute.
/opt/venv/bin/pip install -q --no-index --no-deps "$S"/wheels/nixos_tui_installer-*.whl \
	>"$R/pip.log" 2>&1 || { echo "pip install failed"; cat "$R/pip.log"; exit 10; }
cli=/opt/venv/bin/nixos-tui-installer

mark plan
# The same seed as the install, so the printed plan is the one executed.
# All at once: each CLI start costs ~10 s under TCG, and the guest has 2 CPUs.
# The flake export reads the wheel's own flake templates (with the password
# hash: this machine has no SSH key to log in with).
{ "$cli" --answers "$IN/answers.toml" --seed "$seed" --target "$T" --plan >"$R/plan.txt" 2>"$R/plan.err"
  echo $? >"$R/plan.rc"; } &
{ "$cli" --answers "$IN/answers.toml" --seed "$seed" --target "$T" --render "$R/rendered" >/dev/null 2>"$R/render.err"
  echo $? >"$R/render.rc"; } &
{ "$cli" --answers "$IN/answers.toml" --seed "$seed" --target "$T" --export-flake "$R/flake" \
	--export-password-hashes >"$R/export.out" 2>"$R/export.err"
  echo $? >"$R/export.rc"; } &
wait

mark install
# Wrapping the stand-in records what was mounted while nixos-install ran.
cat >/tmp/nixos-install <<EOF
#!/bin/sh
cat /proc/self/mountinfo >"$R/mountinfo-at-install"
cat /proc/swaps >"$R/swaps-at-install"
exec "$S/standins/nixos-install" "\$@"
EOF
chmod +x /tmp/nixos-install
"$cli" --answers "$IN/answers.toml" --yes --seed "$seed" --target "$T" \
	--nixos-install /tmp/nixos-install --nixos-enter "$S/standins/nixos-enter" \
	--log "$R/install.log" >"$R/cli.out" 2>"$R/cli.err" </dev/null
echo $? >"$R/cli.rc"
mark installed

cat /proc/self/mountinfo >"$R/mountinfo-after"
if [ ! -e /dev/mapper/cryptroot ]; then
	# The installer may close LUKS when done; reopen it to look inside.
	cryptsetup open --key-file "$IN/passphrase" /dev/disk/by-id/virtio-target0-part3 cryptroot \
		>"$R/reopen.log" 2>&1
fi
blkid -p -o export /dev/mapper/cryptroot >"$R/blkid-cryptroot" 2>&1
for p in /dev/disk/by-id/virtio-target0-part*; do
	echo "# $p"
	blkid -p -o export "$p"
done >"$R/blkid-parts" 2>&1
cryptsetup status cryptroot >"$R/cryptroot-status" 2>&1

# The installed tree, mounted read-only by its own fstab-to-be if the
# installer left it unmounted.
if ! mountpoint -q "$T"; then
	fstype=$(blkid -p -s TYPE -o value /dev/mapper/cryptroot)
	opts=ro
	[ "$fstype" = btrfs ] && opts=ro,subvol=@
	mount -o "$opts" /dev/mapper/cryptroot "$T" 2>>"$R/remount.log"
fi
mkdir -p "$R/target-etc-nixos"
cp -r "$T/etc/nixos/." "$R/target-etc-nixos/" 2>>"$R/remount.log"
(cd "$T" && find . -xdev -maxdepth 3 | sort) >"$R/target-tree" 2>&1
# Any plain copy of the passphrase inside the encrypted root (the host cannot look there).
grep -rlaF -f "$IN/passphrase" "$T" >"$R/passphrase-hits-in-root" 2>/dev/null
if [ -d /sys/firmware/efi/efivars ]; then ls /sys/firmware/efi/efivars >"$R/efivars"; fi

mark cleanup
sync
umount -R "$T" 2>/dev/null
swapoff -a 2>/dev/null
cryptsetup close cryptswap 2>/dev/null
cryptsetup close cryptroot 2>/dev/null
sync
mark done
exit 0
