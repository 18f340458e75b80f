"""Fetch a small text over HTTPS: the one narrow function the key import goes through.

Only reads (nothing on this machine changes), but it reaches the network, so
it lives with the other functions that act on the world, and tests point it
at a local HTTPS server by the `context` (their own certificate authority).
The proxy, if any, is the one urllib reads from https_proxy, as Nix does.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request

from installer.answers.sshkeys import MAX_BYTES


class FetchError(Exception):
    """Why the text could not be fetched, as a sentence for a person."""


def fetch_text(url: str, *, timeout: float = 15.0, context: ssl.SSLContext | None = None,
               limit: int = MAX_BYTES) -> str:
    """The body of `url` as text; FetchError with a plain reason otherwise."""
    if not url.startswith("https://"):
        raise FetchError("only https:// addresses are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "nixos-tui-installer"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise FetchError(f"{url} was not found (is the name right?)") from None
        raise FetchError(f"{url} answered {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, ssl.SSLError):
            raise FetchError(f"{url}: its certificate could not be verified ({reason.reason})") from None
        if isinstance(reason, socket.gaierror):
            raise FetchError(f"{url}: the name could not be looked up; is the network up?") from None
        raise FetchError(f"{url} could not be reached: {reason}") from None
    except (TimeoutError, socket.timeout):
        raise FetchError(f"{url} did not answer within {timeout:g} seconds") from None
    except (OSError, ValueError) as e:
        raise FetchError(f"{url} could not be fetched: {e}") from None
    if len(body) > limit:
        raise FetchError(f"{url} sent more than {limit // 1024} KiB: not a list of keys")
    return body.decode("utf-8", errors="replace")
