"""Export the answers as a flake with disko, for nixos-anywhere and disko-install.

One machine is installed with the wizard; a fleet is installed from a flake.
`export_flake` writes the same system the plan would install, in the shape
the NixOS community's remote-install tools expect:

    flake.nix                                  nixpkgs + disko inputs, nixosConfigurations.<host>
    hosts/<host>/disk-config.nix               the plan's layout, in disko's format
    hosts/<host>/configuration.nix             as rendered, without fileSystems/LUKS/swap
    hosts/<host>/hardware-configuration.nix    as rendered, without fileSystems
    hosts/<host>/access.nix                    password hashes (opt-in) or the SSH-only setup
    hosts/<host>/facter.json                   nixos-facter's report, with hardware.report = "facter"
                                               when one was made here (else nixos-anywhere writes it)
    README.md, .gitignore                      the exact commands; secret.key stays out of git

Secrets: the LUKS passphrase never appears (disko reads /tmp/secret.key at
install time); password hashes only with include_password_hashes, because
every .nix file ends up in the world-readable Nix store.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer.base import safefs
from installer.machine.hardware import Machine
from installer.base.logfile import open_private
from installer.answers.model import InstallModel
from installer.answers.resolve import KEEP_LAYOUTS
from installer.nixos.nixlit import nix, nix_attr_name
from installer.nixos.disko import disk_summary, disko_partitions
from installer.plan.types import Plan
from installer.base.problems import Problem, ProblemsError
from installer.answers.validate import HOSTNAME

if TYPE_CHECKING:
    import jinja2

@dataclass(frozen=True)
class Exported:
    """What export_flake wrote: the directory and each file's path relative to it."""

    out_dir: Path
    files: tuple[str, ...]


def _outcome(written: tuple[str, ...]) -> str:
    if not written:
        return "nothing was written"
    return f"only {_words(list(written))} {'was' if len(written) == 1 else 'were'} written"


class ExistingFiles(FileExistsError):
    """The output directory already holds files the export would replace.

    Found before writing, `written` is empty; a file that appeared while the
    export was writing stops it there, and `written` names what it wrote.
    """

    def __init__(self, out_dir: Path, names: list[str], written: tuple[str, ...] = ()):
        self.out_dir = out_dir
        self.names = names
        self.written = written
        self.outcome = _outcome(written)
        super().__init__(f"{out_dir} already holds {', '.join(names)}; {self.outcome}")


class ExportStopped(OSError):
    """A file of the export could not be written (a link, another user's file, a full disk...);
    `written` names the files written before it; `refused`: a link was on the way."""

    def __init__(self, out_dir: Path, name: str, written: tuple[str, ...], err: OSError):
        self.out_dir = out_dir
        self.name = name
        self.written = written
        self.refused = isinstance(err, safefs.LinkRefused)
        self.outcome = _outcome(written)
        super().__init__(err.errno, f"cannot write {out_dir / name}: {err.strerror or err}; {self.outcome}")

    def __str__(self) -> str:  # without OSError's "[Errno N]": shown as it is
        return self.strerror or ""


def flake_paths(hostname: str) -> tuple[str, ...]:
    """The files an export writes for this host, relative to the output directory, in writing order."""
    hosts = f"hosts/{hostname}"
    return ("flake.nix", f"{hosts}/disk-config.nix", f"{hosts}/configuration.nix",
            f"{hosts}/hardware-configuration.nix", f"{hosts}/access.nix", "README.md", ".gitignore")


def existing_files(model: InstallModel, out_dir: str | os.PathLike[str]) -> list[str]:
    """Which of the export's files out_dir already holds (a dangling link counts: writing would follow it)."""
    names = list(flake_paths(model.system.hostname))
    if model.hardware.report == "facter":  # a report may go there: never over one the person has
        names.append(f"hosts/{model.system.hostname}/facter.json")
    return [name for name in names if os.path.lexists(Path(out_dir) / name)]


def _accounts_with_passwords(model: InstallModel) -> list[tuple[str, str | None, str | None]]:
    """(name, password_hash, password) of each account that has either; root unless disabled."""
    accounts = [(u.name, u.password_hash, u.password) for u in model.users]
    if not model.root.disabled:
        accounts.append(("root", model.root.password_hash, model.root.password))
    return [account for account in accounts if account[1] or account[2]]


def exportable_hashes(model: InstallModel) -> list[str]:
    """The accounts whose password hash an export with include_password_hashes would write."""
    return [name for name, _, _ in _accounts_with_passwords(model)]


# -- checks ----------------------------------------------------------------------


def export_problems(model: InstallModel, plan: Plan, *, include_password_hashes: bool = False) -> list[Problem]:
    """Why this model cannot be exported as a flake (empty when it can)."""
    problems = []
    if not HOSTNAME.fullmatch(model.system.hostname):  # it names files and the flake attribute
        problems.append(Problem("system.hostname", "must be an RFC 1123 label (a-z, 0-9, '-') to name the flake"))
    if plan.layout in KEEP_LAYOUTS:
        problems.append(Problem("disk.layout", f"layout \"{plan.layout}\" keeps what is on the disk, and disko "
                                               "formats whole disks: a flake with disko cannot keep it; choose "
                                               "layout \"erase\" to export, or install with this installer"))
    elif plan.layout != "erase" or plan.disk is None or not plan.partitions:
        problems.append(
            Problem(
                "disk.layout",
                "a flake with disko describes a disk it partitions itself; choose layout \"erase\" "
                "(a pre-mounted layout cannot be exported)",
            )
        )
    has_key = any(key.strip() for user in model.users for key in user.ssh_keys)
    if not include_password_hashes and not has_key:
        # A remote install without passwords and without keys is a machine nobody can log in to.
        if model.users:
            first = next((i for i, u in enumerate(model.users) if u.admin), 0)
            problems.append(
                Problem(
                    f"users[{first}].ssh_keys",
                    "add an SSH public key: the exported flake has no passwords (they would be world-readable "
                    "in the Nix store), so SSH keys are the only way to log in; or export with password hashes",
                )
            )
        else:
            problems.append(Problem("users", "add a user with an SSH public key to log in to the installed machine"))
    if not include_password_hashes and not model.software.ssh_server:
        problems.append(
            Problem(
                "software.ssh_server",
                "turn on the SSH server: without passwords in the flake, SSH keys are the only way to log in",
            )
        )
    return problems


# -- the files ---------------------------------------------------------------------


def export_files(
    model: InstallModel,
    machine: Machine,
    plan: Plan,
    *,
    include_password_hashes: bool = False,
    host_platform: str | None = None,
    nixpkgs_branch: str | None = None,
    facter_report: str | None = None,
) -> dict[str, str]:
    """Every exported file's text, keyed by its path relative to the output directory.

    With hardware.report = "facter", hardware-configuration.nix reads ./facter.json:
    `facter_report` (nixos-facter's output, when it was run on this machine) is
    written there; without one, nixos-anywhere writes the target's (README.md).

    nixpkgs follows the running ISO's branch (installer.nixos.facts.nixpkgs_branch):
    the files use that release's option names, whatever system.stateVersion
    says. Raises ProblemsError when the model cannot be exported (see
    export_problems).
    """
    problems = export_problems(model, plan, include_password_hashes=include_password_hashes)
    if problems:
        raise ProblemsError(problems)
    from installer.nixos.render import render

    if host_platform is None:
        from installer.nixos.facts import host_platform as detect

        host_platform = detect()
    if nixpkgs_branch is None:
        from installer.nixos.facts import nixpkgs_branch as running_branch

        nixpkgs_branch = running_branch()
    host = model.system.hostname
    flake, disk_config, configuration, hardware, access_nix, readme, gitignore = flake_paths(host)
    rendered = render(model, machine, plan, include_filesystems=False, host_platform=host_platform)
    access = _access(model, include_password_hashes)
    modules = [disk_config, configuration, hardware, access_nix]
    env = environment()
    common = {
        "host": host,
        "device": plan.disk.stable_path if plan.disk else "",
        "luks": bool(model.encryption.enabled),
        "branch": nixpkgs_branch,
        "uefi": plan.firmware == "uefi",
        "facter": model.hardware.report == "facter",
    }
    files = {
        flake: env.get_template("flake/flake.nix.j2").render(
            **common,
            description=f"NixOS on {host}, exported by nixos-tui-installer",
            nixpkgs_url=f"github:NixOS/nixpkgs/{nixpkgs_branch}",
            modules=modules,
        ),
        disk_config: env.get_template("flake/disk-config.nix.j2").render(
            **common, summary=disk_summary(plan), partitions=disko_partitions(model, plan)
        ),
        configuration: rendered["configuration.nix"],
        hardware: rendered["hardware-configuration.nix"],
        access_nix: env.get_template("flake/access.nix.j2").render(**access),
        readme: env.get_template("flake/README.md.j2").render(
            **common, **access, ssh_server=model.software.ssh_server,
            access_words="password hashes" if access["hashed"] else "SSH keys",
        ),
        gitignore: "# The disk passphrase for nixos-anywhere / disko-install: never commit it.\nsecret.key\nresult\n",
    }
    if common["facter"] and facter_report is not None:
        files[f"hosts/{host}/facter.json"] = facter_report
    return files


def export_flake(
    model: InstallModel,
    machine: Machine,
    plan: Plan,
    out_dir: str | os.PathLike[str],
    *,
    include_password_hashes: bool = False,
    overwrite: bool = False,
    host_platform: str | None = None,
    nixpkgs_branch: str | None = None,
    facter_report: str | None = None,
) -> Exported:
    """Write the flake into out_dir (created when missing).

    Raises ProblemsError when the model cannot be exported, and ExistingFiles
    (before writing anything) when out_dir already holds one of the files,
    unless overwrite: it may be a flake the person has changed since. A file
    that cannot be written stops the export with ExistingFiles (it appeared
    since the check) or ExportStopped, both naming the files written before.
    """
    files = export_files(
        model, machine, plan, include_password_hashes=include_password_hashes, host_platform=host_platform,
        nixpkgs_branch=nixpkgs_branch, facter_report=facter_report,
    )
    out = Path(out_dir)
    if not overwrite:
        found = existing_files(model, out)
        if found:
            raise ExistingFiles(out, found)
    # No link anywhere on the way to any file (`hosts -> elsewhere`), checked
    # before the first is written; the writes below walk without links too.
    for name in files:
        try:
            safefs.check(out / name)
        except safefs.LinkRefused as err:
            raise ExportStopped(out, name, (), err) from None
    written: list[str] = []
    try:
        top = safefs.open_dir(out, create=True, mode=0o755)
    except OSError as err:
        raise ExportStopped(out, next(iter(files)), (), err) from None
    try:
        for name, text in files.items():
            path = out / name
            try:
                where = safefs.open_dir(os.path.dirname(name), base=top, create=True, mode=0o755, shown=str(out))
                try:
                    # 0600 for everything, a replaced file too: the directory may
                    # hold hashes, and it names the disks and users; the owner
                    # decides who else may read it. Never through a link, never
                    # over another user's file; new unless replacing, so a file
                    # that appeared since the check is not clobbered either.
                    fd = open_private(path, append=False, new=not overwrite, dir_fd=where)
                except FileExistsError:
                    raise ExistingFiles(out, [name], tuple(written)) from None
                finally:
                    os.close(where)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
            except ExistingFiles:
                raise
            except OSError as err:
                raise ExportStopped(out, name, tuple(written), err) from None
            written.append(name)
    finally:
        os.close(top)
    return Exported(out, tuple(written))


# -- configuration.nix and access.nix -------------------------------------------------


def _access(model: InstallModel, include_hashes: bool) -> dict[str, Any]:
    hashed = []
    if include_hashes:
        hashed = [{"name": name, "hash": _hash_of(password_hash, password)}
                  for name, password_hash, password in _accounts_with_passwords(model)]
    hashed_names = {a["name"] for a in hashed}
    admins = [u.name for u in model.users if u.admin]
    key_users = [u.name for u in model.users if any(k.strip() for k in u.ssh_keys)]
    return {
        "include_hashes": include_hashes,
        "hashed": hashed,
        "hashed_names": _words(sorted(hashed_names)) or "nobody",
        "admins": admins,
        "admin_names": _words(admins),
        "key_users": key_users,
        "key_names": _words(key_users),
        # sudo cannot ask an administrator for a password nobody set.
        "passwordless_sudo": bool(admins) and not any(a in hashed_names for a in admins),
    }


def _hash_of(password_hash: str | None, password: str | None) -> str:
    if password_hash:
        return password_hash
    from installer.base.hashing import hash_password

    assert password, "_accounts_with_passwords gives a hash or a password"
    return hash_password(password)


def _words(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


# -- templates ----------------------------------------------------------------------


def nix_path(path: str) -> str:
    """A relative Nix path literal (./hosts/x/y.nix); refuses characters a path literal cannot hold."""
    if not path or not all(c.isascii() and (c.isalnum() or c in "._-+/") for c in path) or ".." in path.split("/"):
        raise ValueError(f"{path!r} cannot be written as a Nix path literal")
    return "./" + path


def nix_block(value: Any, indent: int = 0) -> str:
    """A Nix value laid out over several lines, as a person would write it.

    Leaves go through `nix()`; attribute names through `nix_attr_name()`.
    """
    if isinstance(value, dict) and value:
        pad = " " * (indent + 2)
        body = "".join(f"{pad}{nix_attr_name(k)} = {nix_block(v, indent + 2)};\n" for k, v in value.items())
        return "{\n" + body + " " * indent + "}"
    return nix(value)


def one_line(text: str) -> str:
    """Text safe inside a `#` comment: no line break can end the comment early."""
    return " ".join(str(text).split())


# What each filter's output is safe as, whatever its input (tests/test_render.py
# holds every template to it by file type): a Nix literal or path anywhere in
# a .nix file; one-line text only inside a `#` comment of a .nix file, or as
# Markdown prose; a shell word in the README's commands.
NIX_FILTERS = frozenset({"nix", "nix_attr", "nix_block", "nix_path"})
LINE_FILTERS = frozenset({"one_line"})
SHELL_FILTERS = frozenset({"sh"})


@cache
def environment() -> jinja2.Environment:
    from installer.nixos.render import new_environment

    return new_environment(
        {"nix": nix, "nix_attr": nix_attr_name, "nix_block": nix_block, "nix_path": nix_path,
         "sh": shlex.quote, "one_line": one_line}
    )
