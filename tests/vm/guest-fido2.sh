#!/bin/bash
# In-VM entry point of the FIDO2 install test (run by vm-init as /share/guest.sh):
# the real CLI installs unattended with encryption.unlock = "fido2", the
# systemd-cryptenroll stand-in (tests/standins/cryptenroll: no security key
# in a VM) first on PATH. This kernel has dm-crypt, which the build host's may
# lack: the whole disk phase runs, LUKS open included, then the enrolment.
#
# Never echo the passphrase: it is only handed to tools as a file.
set -u
S=/share
R=$S/results
IN=$S/input
mark() { echo "=== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }

mark start
# Test-only: a cheaper argon2id for luksFormat, as guest.sh does (the plan's own
# arguments stay the product's).
real=$(command -v cryptsetup)
mkdir -p /tmp/shim
cat >/tmp/shim/cryptsetup <<SHIM
#!/bin/sh
for arg in "\$@"; do
	[ "\$arg" = luksFormat ] && exec $real --pbkdf-memory 32768 --iter-time 100 "\$@"
done
exec $real "\$@"
SHIM
chmod 0755 /tmp/shim/cryptsetup
export PATH=$S/standins/cryptenroll:/tmp/shim:$PATH

mark pip
/opt/venv/bin/pip install -q --no-index --no-deps "$S"/wheels/nixos_tui_installer-*.whl \
	>"$R/pip.log" 2>&1 || { echo "pip install failed"; cat "$R/pip.log"; exit 10; }

mark install
/opt/venv/bin/nixos-tui-installer --answers "$IN/answers.toml" --yes --skip-eval --target /mnt \
	--nixos-install "$S/standins/nixos-install" --nixos-enter "$S/standins/nixos-enter" \
	--log "$R/install.log" >"$R/out.txt" 2>&1
echo $? >"$R/install.rc"

mark installed
root=$(readlink -f /dev/disk/by-id/virtio-target0)3
cryptsetup luksDump --dump-json-metadata "$root" >"$R/luks.json" 2>&1
ls -la /run >"$R/run.txt" 2>&1
cp /mnt/etc/nixos/configuration.nix "$R/" 2>/dev/null
mark done
