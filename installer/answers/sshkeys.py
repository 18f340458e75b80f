"""Where SSH public keys can be imported from, and which lines of what came back are keys.

A bare console has no paste, so the Users step imports keys: from a GitHub or
GitLab account (both publish an account's keys at https://HOST/USER.keys, one
OpenSSH line each), from any https:// URL, or from a file on a USB stick.
This module is pure: it names the URL and sorts the text; the fetching is
installer.run.fetch's, the reading the screen's file picker's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from installer.answers.model import InstallModel
from installer.answers.validate import ssh_key_problem
from installer.base.problems import shown

GITHUB_KEYS = "https://github.com/{user}.keys"
GITLAB_KEYS = "https://gitlab.com/{user}.keys"
# GitHub: letters, digits and single hyphens, at most 39 characters; GitLab
# also allows '_' and '.'. Checked here so a typo gets a message, not a 404.
GITHUB_USER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
GITLAB_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
# More than any account's keys; a file or URL bigger than this is not a key list.
MAX_BYTES = 256 * 1024

HOSTS = {"github": "GitHub", "gitlab": "GitLab"}
SOURCE_HINT = "a GitHub user name, gitlab:NAME, or an https:// address"


@dataclass(frozen=True)
class KeySource:
    url: str = ""  # what to fetch
    shown: str = ""  # what a message calls it: "GitHub user alice"
    problem: str = ""  # why what was typed names no source


def key_source(text: str) -> KeySource:
    """The source a person typed: "alice" or "github:alice" (GitHub), "gitlab:alice",
    or an https:// URL. Plain http is refused: a key fetched over it could be
    swapped on the way, and it would let its holder log in."""
    text = text.strip()
    if not text:
        return KeySource(problem=f"type {SOURCE_HINT}")
    if text.startswith(("https://", "http://")):
        if not text.startswith("https://"):
            return KeySource(problem="use an https:// address: keys fetched over plain http could be swapped")
        if any(c.isspace() for c in text):
            return KeySource(problem="an address has no spaces")
        return KeySource(url=text, shown=text)
    host, _, user = text.rpartition(":")
    host = host.lower() or "github"
    if host == "github" and GITHUB_USER.fullmatch(user):
        return KeySource(url=GITHUB_KEYS.format(user=user), shown=f"GitHub user {user}")
    if host == "gitlab" and GITLAB_USER.fullmatch(user):
        return KeySource(url=GITLAB_KEYS.format(user=user), shown=f"GitLab user {user}")
    if host in ("github", "gitlab"):
        return KeySource(problem=f"{shown(user)} is not a {HOSTS[host]} user name")
    return KeySource(problem=f"{shown(text)} is not {SOURCE_HINT}")


@dataclass(frozen=True)
class FoundKeys:
    keys: tuple[str, ...]
    skipped: int  # non-empty lines that are not keys (comments, options, junk)

    def summary(self, where: str) -> str:
        """One line for the person: what was imported, and what was not."""
        if not self.keys:
            return f"no SSH public keys found in {where}"
        said = f"{len(self.keys)} key{'s' if len(self.keys) != 1 else ''} imported from {where}"
        return said + (f" ({self.skipped} other line{'s' if self.skipped != 1 else ''} skipped)"
                       if self.skipped else "")


def keys_in(text: str, have: list[str] | tuple[str, ...] = ()) -> FoundKeys:
    """The OpenSSH public key lines of `text` (a .keys response, a .pub file or
    an authorized_keys file), each once, leaving out those already in `have`.
    A line with options before the key (authorized_keys' 'from="..." ssh-...')
    is skipped: the options would be lost, and they restrict who may use it."""
    known = {" ".join(k.split()[:2]) for k in have}
    keys: list[str] = []
    skipped = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if ssh_key_problem(line):
            skipped += 1
            continue
        ident = " ".join(line.split()[:2])
        if ident not in known:
            known.add(ident)
            keys.append(line)
    return FoundKeys(tuple(keys), skipped)


def propose_ssh_server(model: InstallModel, had_keys: bool) -> bool:
    """The first SSH key given turns the SSH server on (what the keys are for);
    later keys leave the person's choice alone, so turning it off again sticks.
    Returns whether it was turned on now."""
    has_keys = any(user.ssh_keys for user in model.users)
    if has_keys and not had_keys and not model.software.ssh_server:
        model.software.ssh_server = True
        return True
    return False
