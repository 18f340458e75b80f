#!/bin/bash
# In-VM entry point of the TPM2 unlock test (run by vm-init as /share/guest.sh):
# QEMU gives the guest an emulated TPM 2.0 (swtpm on the host). A LUKS2
# container gets the installer's planned UUID, the passphrase goes into the
# key file the installer leaves in the target, and the first-boot service's
# own script (taken from a configuration.nix the engine rendered) enrols the
# TPM2. Then the container is opened by the TPM2 alone, as the systemd initrd's
# crypttab line does, and with cryptsetup's systemd-tpm2 token.
#
# Never echo the passphrase: it is only handed to tools as a file.
set -u
S=/share
R=$S/results
IN=$S/input
mark() { echo "=== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }

mark start
modprobe tpm_tis 2>/dev/null
udevadm settle --timeout=30
ls -l /dev/tpm* >"$R/tpm-devices.txt" 2>&1
systemd-cryptenroll --tpm2-device=list >"$R/tpm2-list.txt" 2>&1

mark format
dev=/dev/vdb
uuid=$(cat "$IN/luks-uuid")
# Test-only: a cheap PBKDF (the installer's own luksFormat is the product's default).
cryptsetup luksFormat --type luks2 --uuid "$uuid" --batch-mode --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000 --key-file="$IN/passphrase" "$dev" >"$R/format.log" 2>&1
echo $? >"$R/format.rc"
udevadm trigger --action=change "$dev"
udevadm settle --timeout=30
ls -l /dev/disk/by-uuid/ >"$R/by-uuid.txt" 2>&1

mark enrol
# Where the installer writes it (installer.plan.unlock.TPM2_KEY_FILE), as it writes it.
key=$(cat "$IN/key-file")
install -d -m 0700 "$(dirname "$key")"
install -m 0600 "$IN/passphrase" "$key"
args=$(cat "$IN/script-args")
# As NixOS runs the service: its script under bash -e, scriptArgs as arguments.
# shellcheck disable=SC2086
bash -e "$S/tpm2-enrol.sh" $args >"$R/enrol.log" 2>&1
echo $? >"$R/enrol.rc"
if [ -e "$key" ]; then echo yes; else echo no; fi >"$R/key-left"
systemd-cryptenroll "$dev" >"$R/slots.txt" 2>&1
cryptsetup luksDump "$dev" >"$R/luksdump.txt" 2>&1

mark attach
# What the initrd runs for `crypttabExtraOpts = [ "tpm2-device=auto" ]`; headless:
# no passphrase prompt to fall back on, so only the TPM2 can open it.
/lib/systemd/systemd-cryptsetup attach tpmtest "$dev" - tpm2-device=auto,headless=true \
	>"$R/attach.log" 2>&1
echo $? >"$R/attach.rc"
if [ -b /dev/mapper/tpmtest ]; then echo yes; else echo no; fi >"$R/mapped"
/lib/systemd/systemd-cryptsetup detach tpmtest >>"$R/attach.log" 2>&1
cryptsetup open --token-only "$dev" tokentest </dev/null >"$R/token-only.log" 2>&1
echo $? >"$R/token-only.rc"
cryptsetup close tokentest >>"$R/token-only.log" 2>&1

mark again
# The service at the next boot: the key is gone, so it does nothing.
# shellcheck disable=SC2086
bash -e "$S/tpm2-enrol.sh" $args >"$R/again.log" 2>&1
echo $? >"$R/again.rc"
systemd-cryptenroll "$dev" >"$R/slots-again.txt" 2>&1
mark done
