"""Password hashes: the one place a password becomes a crypt hash.

Python 3.13 has no `crypt` module, so hashing goes straight to libxcrypt
(libcrypt.so.1 on Debian and NixOS) through ctypes: yescrypt ($y$), the
NixOS default, or SHA-512 crypt ($6$) when the library lacks yescrypt. When
no libcrypt can be loaded at all, a pure-Python SHA-512 crypt keeps the
installer working. Never when libcrypt is there but refuses the password
(512 bytes or more): PAM on the installed system uses the same libxcrypt and
could never match a hash made another way, so the account would be locked.

installer.run.passwords sets the hashes on the installed system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import secrets
from collections.abc import Sequence


_CRYPT_DATA_SIZE = 32768  # sizeof(struct crypt_data) in libxcrypt
_OUTPUT_SIZE = 256
# libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE is 512 with the terminating NUL: it refuses
# a password of 512 bytes or more, so the installed system could never check one.
MAX_PASSWORD_BYTES = 511
_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# -- libxcrypt through ctypes -----------------------------------------------
def _load_libcrypt() -> ctypes.CDLL | None:
    names = ["libcrypt.so.1", "libcrypt.so.2"]
    found = ctypes.util.find_library("crypt")
    if found:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            gensalt, crypt_rn = lib.crypt_gensalt_rn, lib.crypt_rn
        except (OSError, AttributeError):
            continue
        gensalt.restype = ctypes.c_char_p
        gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int,
                            ctypes.c_char_p, ctypes.c_int]
        crypt_rn.restype = ctypes.c_char_p
        crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        return lib
    return None


_LIB = _load_libcrypt()


def _lib_gensalt(prefix: bytes) -> bytes | None:
    if _LIB is None:
        return None
    out = ctypes.create_string_buffer(_OUTPUT_SIZE)
    # rbytes NULL: libxcrypt draws the salt from the OS's random source.
    setting: bytes | None = _LIB.crypt_gensalt_rn(prefix, 0, None, 0, out, _OUTPUT_SIZE)  # c_char_p
    return setting if setting and not setting.startswith(b"*") else None


def _lib_crypt(password: str, setting: str) -> str | None:
    if _LIB is None:
        return None
    data = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
    # restype c_char_p: bytes or None (ctypes' CDLL attributes are typed Any).
    result: bytes | None = _LIB.crypt_rn(password.encode("utf-8"), setting.encode("ascii"), data, _CRYPT_DATA_SIZE)
    # libxcrypt returns a string starting with "*" for an invalid setting.
    if not result or result.startswith(b"*"):
        return None
    return result.decode("ascii")


def yescrypt_available() -> bool:
    return _lib_gensalt(b"$y$") is not None


# -- pure-Python SHA-512 crypt (Drepper's specification), the last resort ---
def _b64_from_bytes(data: bytes, order: Sequence[tuple[int, int, int]], tail: tuple[int, ...]) -> str:
    out = []
    for a, b, c in order:
        value = (data[a] << 16) | (data[b] << 8) | data[c]
        for _ in range(4):
            out.append(_B64[value & 0x3F])
            value >>= 6
    value = 0
    for i, index in enumerate(tail):
        value |= data[index] << (8 * i)
    for _ in range(len(tail) * 8 // 6 + 1):
        out.append(_B64[value & 0x3F])
        value >>= 6
    return "".join(out)


_SHA512_ORDER = [((22 * k) % 63, (22 * k + 21) % 63, (22 * k + 42) % 63) for k in range(21)]


def sha512_crypt(password: str, salt: str | None = None, rounds: int = 5000) -> str:
    """SHA-512 crypt ($6$), bit for bit as glibc and libxcrypt compute it."""
    if salt is None:
        salt = "".join(secrets.choice(_B64) for _ in range(16))
    salt = salt[:16]
    pw, sb = password.encode("utf-8"), salt.encode("ascii")
    alt = hashlib.sha512(pw + sb + pw).digest()
    ctx = hashlib.sha512(pw + sb)
    n = len(pw)
    while n > 64:
        ctx.update(alt)
        n -= 64
    ctx.update(alt[:n])
    n = len(pw)
    while n:
        ctx.update(alt if n & 1 else pw)
        n >>= 1
    a = ctx.digest()
    dp = hashlib.sha512(pw * len(pw)).digest()
    p = (dp * (len(pw) // 64 + 1))[: len(pw)]
    ds = hashlib.sha512(sb * (16 + a[0])).digest()
    s = (ds * (len(sb) // 64 + 1))[: len(sb)]
    c = a
    for i in range(rounds):
        h = hashlib.sha512()
        h.update(p if i & 1 else c)
        if i % 3:
            h.update(s)
        if i % 7:
            h.update(p)
        h.update(c if i & 1 else p)
        c = h.digest()
    prefix = "$6$" if rounds == 5000 else f"$6$rounds={rounds}$"
    return f"{prefix}{salt}${_b64_from_bytes(c, _SHA512_ORDER, (63,))}"


def _sha512_verify(password: str, hashed: str) -> bool:
    parts = hashed.split("$")
    # ['', '6', ('rounds=N',) salt, digest]
    rounds = 5000
    if len(parts) == 5 and parts[2].startswith("rounds="):
        rounds = max(1000, min(999_999_999, int(parts[2][7:])))
        salt = parts[3]
    elif len(parts) == 4:
        salt = parts[2]
    else:
        return False
    return hmac.compare_digest(sha512_crypt(password, salt, rounds), hashed)


# -- the public functions ----------------------------------------------------
def password_problem(password: str) -> str:
    """Why the installed system could not check this password ("" when it can): the
    message the wizard's field and the answers file's key show."""
    size = len(password.encode("utf-8"))
    if size > MAX_PASSWORD_BYTES:
        return (f"is {size} bytes long; the installed system checks passwords of at most "
                f"{MAX_PASSWORD_BYTES} bytes (libxcrypt), so it could never be typed in")
    return ""


def hash_password(password: str) -> str:
    """A crypt hash of the password: yescrypt, else SHA-512 crypt. ValueError for
    a password the installed system's libxcrypt could never check."""
    if "\0" in password:
        raise ValueError("a password cannot contain a NUL character")
    if password_problem(password):
        raise ValueError(f"the password {password_problem(password)}")
    for prefix in (b"$y$", b"$6$"):
        setting = _lib_gensalt(prefix)
        if setting is not None:
            hashed = _lib_crypt(password, setting.decode("ascii"))
            if hashed is not None:
                return hashed
            # libcrypt is here and refused this password: a hash of our own would never match on login.
            raise ValueError("libcrypt refused to hash this password; choose another")
    return sha512_crypt(password)


def verify_password(password: str, hashed: str) -> bool:
    """Whether the password matches the crypt hash (constant-time compare)."""
    if not hashed or "\0" in password:
        return False
    computed = _lib_crypt(password, hashed)
    if computed is None and hashed.startswith("$6$"):
        return _sha512_verify(password, hashed)
    return computed is not None and hmac.compare_digest(computed, hashed)


def looks_like_hash(text: str) -> bool:
    return text.startswith(("$y$", "$6$", "$5$", "$2b$", "$7$", "$gy$", "$sha1$")) and ":" not in text
