"""Unlocking the encrypted disk besides its passphrase: a FIDO2 security key or the TPM2.

The passphrase always stays a key slot (typed when the key is lost or the TPM
refuses). Both ways need systemd's initrd (`boot.initrd.systemd.enable`): its
systemd-cryptsetup reads `fido2-device=auto` / `tpm2-device=auto` from crypttab,
which NixOS fills from `boot.initrd.luks.devices.<name>.crypttabExtraOpts`.

- FIDO2 is enrolled during the install, after the LUKS format and before
  nixos-install: `systemd-cryptenroll --fido2-device=auto`, its prompts ("please
  confirm presence on security token") shown as they come. The passphrase reaches
  it as `--unlock-key-file`, a 0600 file in a 0700 directory under /run that the
  executor writes and removes around the one command (never argv, never the
  environment: systemd-cryptenroll would also read $PASSWORD, which child
  processes and /proc/PID/environ could show).
- TPM2 is enrolled at the installed system's first boot, not from the ISO: the
  PCR values it seals against (7, the Secure Boot state) are those of the
  firmware booting the installed system, and the ISO's boot differs. The
  installer writes the passphrase to TPM2_KEY_FILE inside the new root
  (encrypted at rest, mode 0600 under a 0700 directory, never in the Nix store);
  a one-shot service enrols the TPM2 with it and shreds it, enrolled or not.
"""

from __future__ import annotations

from installer.plan.types import Action, LuksEntry, Step

# Where the executor's key file goes in an argv: it substitutes the real path.
KEY_FILE = "<key file>"
# Inside the installed system (the root filesystem, encrypted): read once at the first boot.
TPM2_KEY_DIR = "/var/lib/nixos-tui-installer"
TPM2_KEY_FILE = f"{TPM2_KEY_DIR}/tpm2-enrol.key"
TPM2_PCRS = "7"  # Secure Boot state and keys: survives kernel and initrd updates, unlike 4, 9 or 11
TPM2_SERVICE = "nixos-tui-installer-tpm2-enrol"

CRYPTTAB_OPTIONS = {"fido2": ["fido2-device=auto"], "tpm2": ["tpm2-device=auto"], "passphrase": []}


def fido2_argv(device: str) -> list[str]:
    """The enrolment command for one LUKS device (the key file's path filled in by the executor)."""
    return ["systemd-cryptenroll", f"--unlock-key-file={KEY_FILE}", "--fido2-device=auto", device]


def tpm2_argv(device: str, key_file: str = TPM2_KEY_FILE) -> list[str]:
    """The first-boot service's command, as its script runs it."""
    return ["systemd-cryptenroll", f"--unlock-key-file={key_file}", "--tpm2-device=auto",
            f"--tpm2-pcrs={TPM2_PCRS}", device]


def fido2_steps(luks: list[LuksEntry], partitions: dict[str, str]) -> list[Step]:
    """One enrolment per LUKS container the plan made (name -> its partition)."""
    return [
        Step(Action.ENROLL_FIDO2,
             f"Enrol the FIDO2 security key on {partitions[entry.name]} (touch it when it blinks; "
             "the passphrase stays a key)",
             tuple(fido2_argv(partitions[entry.name])), stdin="luks_passphrase")
        for entry in luks
    ]
