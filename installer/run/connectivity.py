"""Is this machine online, and does the binary cache answer?

Not a ping (ICMP is often blocked, and a ping says nothing of the cache):
an HTTPS request for `/nix-cache-info` to the substituters nixos-install
will use, read from the live system's nix.conf (cache.nixos.org by
default), through the HTTP proxy when one is given. How the request fails
tells the internet from the cache where it can: a name that does not
resolve or a connection that is never made means no network; a TLS or HTTP
error means the network works but the cache does not answer as a cache.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

NIX_CONF = "/etc/nix/nix.conf"
DEFAULT_SUBSTITUTERS = ("https://cache.nixos.org",)
TIMEOUT = 5.0


@dataclass(frozen=True)
class Reachability:
    url: str  # the substituter asked (the first that answered, or the first asked)
    internet: bool  # something on the network answered
    cache: bool  # the substituter answered as a Nix binary cache
    detail: str = ""  # why not, in words

    @property
    def words(self) -> str:
        """One line, as the Network and Confirm steps show it."""
        if self.cache:
            return f"Online: the binary cache {self.url} answers."
        if self.internet:
            return f"Online, but the binary cache {self.url} does not answer: {self.detail}"
        return f"Not online: {self.detail}"


def substituters(nix_conf: str | Path = NIX_CONF) -> list[str]:
    """The substituters nixos-install will use, as Nix reads nix.conf: a
    `substituters` line replaces the value so far (cache.nixos.org at
    first), an `extra-substituters` line adds to it. `trusted-substituters`
    are only allowed, not used unless a client asks, so they are not asked."""
    urls = list(DEFAULT_SUBSTITUTERS)
    try:
        lines = Path(nix_conf).read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, sep, value = line.split("#", 1)[0].partition("=")
        key = key.strip()
        if not sep:
            continue
        if key == "substituters":
            urls = value.split()
        elif key == "extra-substituters":
            urls += value.split()
    # Only what an HTTP request can reach: a local store or ssh:// is no sign of being online.
    return [u for u in dict.fromkeys(u.rstrip("/") for u in urls) if u.startswith(("http://", "https://"))]


def probe(url: str, *, proxy: str = "", timeout: float = TIMEOUT) -> Reachability:
    """One substituter: GET URL/nix-cache-info (a few bytes), through `proxy` when given."""
    handlers: list[urllib.request.BaseHandler] = []
    if proxy:
        handlers.append(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(f"{url}/nix-cache-info", headers={"User-Agent": "nixos-tui-installer"})
    try:
        with opener.open(request, timeout=timeout) as reply:
            body = reply.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return Reachability(url, True, False, f"it answered HTTP {err.code} {err.reason}.")
    except (urllib.error.URLError, OSError) as err:
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        return _failure(url, reason, proxy)
    if "StoreDir:" not in body:
        # A captive portal answers every request with its own login page.
        return Reachability(url, True, False, "the answer is not a Nix cache's (a login page of a hotspot?).")
    return Reachability(url, True, True)


def _failure(url: str, reason: object, proxy: str) -> Reachability:
    via = " through the proxy" if proxy else ""
    if isinstance(reason, ssl.SSLError):
        return Reachability(url, True, False, f"its certificate was refused ({reason.reason or reason}).")
    if isinstance(reason, socket.gaierror):
        return Reachability(url, False, False, f"the name {_host(proxy or url)} does not resolve (no network or no DNS).")
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return Reachability(url, False, False, f"no answer from {_host(url)}{via} within the time allowed.")
    if isinstance(reason, ConnectionRefusedError):
        return Reachability(url, True, False, f"{_host(proxy or url)} refused the connection.")
    if isinstance(reason, OSError) and reason.strerror:
        return Reachability(url, False, False, f"{reason.strerror.lower()} ({_host(proxy or url)}{via}).")
    return Reachability(url, False, False, f"{reason}{via}.")


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def check(urls: list[str] | None = None, *, proxy: str = "", timeout: float = TIMEOUT,
          nix_conf: str | Path = NIX_CONF) -> Reachability:
    """The first substituter that answers as a cache; else the most telling failure."""
    urls = urls if urls is not None else substituters(nix_conf)
    if not urls:
        return Reachability("", False, False, "nix.conf names no HTTP binary cache.")
    results = []
    for url in urls:
        result = probe(url, proxy=proxy, timeout=timeout)
        if result.cache:
            return result
        results.append(result)
    return next((r for r in results if r.internet), results[0])
