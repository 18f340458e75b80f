"""The network the wizard's tests see: a binary cache served on 127.0.0.1 (so a
wizard in a test is online whatever this host's network is), a nix.conf naming
it or naming a port nothing listens on (offline), and the nmcli stand-in
(tests/standins/nmcli) on a machine described in JSON.
"""

from __future__ import annotations

import http.server
import json
import shlex
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NMCLI_STANDIN = ROOT / "tests" / "standins" / "nmcli"
CACHE_INFO = b"StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n"
# A name that never resolves (RFC 6761): "no network", as a machine without one sees it.
NOWHERE = "http://cache.invalid"
# One port for every test process (SO_REUSEPORT: each xdist worker binds it too, all
# answering alike), so the URL the wizard shows is the same in every snapshot.
PORT = 48765


class _Cache(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path != "/nix-cache-info":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(CACHE_INFO)))
        self.end_headers()
        self.wfile.write(CACHE_INFO)

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    allow_reuse_port = True
    daemon_threads = True


_server: _Server | None = None
_dir = Path(tempfile.mkdtemp(prefix="localnet-"))


def cache_url() -> str:
    """The local binary cache, started on first use and kept for the test process."""
    global _server
    if _server is None:
        try:
            _server = _Server(("127.0.0.1", PORT), _Cache)
        except OSError:  # taken by another user's process: any port answers as well
            _server = _Server(("127.0.0.1", 0), _Cache)
        threading.Thread(target=_server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{_server.server_address[1]}"


def nix_conf(online: bool = True) -> str:
    """A nix.conf whose only substituter is the local cache (online) or nothing at all (offline)."""
    path = _dir / ("online.conf" if online else "offline.conf")
    path.write_text(f"substituters = {cache_url() if online else NOWHERE}\n")
    return str(path)


# make run's laptop (NETWORK in the Makefile): on the ISO, no cable, its Wi-Fi card not
# joined, five networks in range (one hidden, one open, one WPA3-only).
LAPTOP: dict[str, Any] = json.loads((ROOT / "tests/fixtures/network/laptop-nmcli.json").read_text())


def nmcli(state: Path, machine: dict[str, Any] | None = None, record: Path | None = None, **changes: Any) -> str:
    """The --nmcli command for the stand-in on `machine` (LAPTOP, with `changes`), its state written to `state`."""
    state.write_text(json.dumps({**(machine or LAPTOP), **changes}))
    env = [f"NMCLI_STATE={state}"] + ([f"STANDIN_RECORD={record}"] if record else [])
    return shlex.join(["env", *env, sys.executable, str(NMCLI_STANDIN)])
