"""The crypt hash formats an answers file may give as `password_hash`.

chpasswd -e writes the hash into /etc/shadow as it is, after the disk was
erased and nixos-install ran: a malformed hash found there is found far too
late (and a ':' or a newline would break the shadow line). So each hash is
checked against its format's exact shape, as libxcrypt writes it, when the
answers are validated. Messages never repeat the hash: it is a secret.
"""

from __future__ import annotations

import re

_B64 = "[./0-9A-Za-z]"


def _shape(body: str) -> re.Pattern[str]:
    return re.compile(body)


# (prefix, name, pattern of the whole hash, what it looks like in words)
FORMATS = (
    ("$y$", "yescrypt", _shape(rf"\$y\${_B64}+\${_B64}{{1,86}}\${_B64}{{43}}"),
     "$y$, parameters, $, a salt, $, then 43 characters from ./0-9A-Za-z"),
    ("$gy$", "gost-yescrypt", _shape(rf"\$gy\${_B64}+\${_B64}{{1,86}}\${_B64}{{43}}"),
     "$gy$, parameters, $, a salt, $, then 43 characters from ./0-9A-Za-z"),
    ("$6$", "SHA-512", _shape(rf"\$6\$(?:rounds=[1-9][0-9]{{3,8}}\$)?{_B64}{{1,16}}\${_B64}{{86}}"),
     "$6$, an optional rounds=N$, a salt of 1 to 16 characters, $, then 86 characters from ./0-9A-Za-z"),
    ("$5$", "SHA-256", _shape(rf"\$5\$(?:rounds=[1-9][0-9]{{3,8}}\$)?{_B64}{{1,16}}\${_B64}{{43}}"),
     "$5$, an optional rounds=N$, a salt of 1 to 16 characters, $, then 43 characters from ./0-9A-Za-z"),
    *((f"$2{v}$", "bcrypt", _shape(rf"\$2{v}\$(?:0[4-9]|[12][0-9]|3[01])\${_B64}{{53}}"),
       f"$2{v}$, a cost from 04 to 31, $, then 53 characters from ./0-9A-Za-z") for v in "bay"),
)
HINT = "make one with: mkpasswd -m yescrypt"


def hash_problem(text: str) -> str:
    """Why `text` is not a crypt hash chpasswd -e can set, or "" when it is one."""
    if "\n" in text or "\r" in text:
        return f"a password hash is a single line; {HINT}"
    if ":" in text:
        return f"a password hash cannot contain ':' (it separates the fields of /etc/shadow); {HINT}"
    for prefix, name, pattern, words in FORMATS:
        if text.startswith(prefix):
            if pattern.fullmatch(text):
                return ""
            last = text.rsplit("$", 1)[-1]
            count = f"{len(last)} character" + ("" if len(last) == 1 else "s")
            return (f"not a well-formed {name} hash: expected {words} (the part after the last '$' "
                    f"has {count}); {HINT}")
    return ("not a crypt hash this installer can set: use yescrypt ($y$...), SHA-512 ($6$...) "
            f"or bcrypt ($2b$...); {HINT}")
