"""installer.run.connectivity against real local servers: an HTTP and an
HTTPS server on 127.0.0.1 answering as a Nix binary cache (or not), a tiny
real proxy (absolute-URI GET and CONNECT tunnels), a server that never
answers, and substituters read from nix.conf text as NixOS writes it."""

from __future__ import annotations

import http.server
import select
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from installer.run import connectivity

CACHE_INFO = b"StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n"
PORTAL = b"<html><body>Please log in to use the hotspot</body></html>"


@pytest.fixture(autouse=True)
def no_proxy_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib takes *_proxy from the environment; these tests name their proxy.
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class Cache(http.server.BaseHTTPRequestHandler):
    body = CACHE_INFO
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        served = self.server.served  # type: ignore[attr-defined]
        served.append(self.path)
        if self.path != "/nix-cache-info":
            self.send_error(404)
            return
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[http.server.BaseHTTPRequestHandler], tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.served = []  # type: ignore[attr-defined]
    scheme = "http"
    if tls is not None:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cache() -> Iterator[str]:
    yield from serve(Cache)


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and cache.invalid, made by openssl."""
    crt, key = tmp_path / "cache.crt", tmp_path / "cache.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", "/CN=cache.invalid",
                    "-addext", "subjectAltName=DNS:cache.invalid,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_substituters_as_nix_reads_nix_conf(tmp_path: Path) -> None:
    conf = tmp_path / "nix.conf"
    # As NixOS' nix.conf module writes it (nix.settings), with a flake's extra cache.
    conf.write_text("# WARNING: this file is generated from the nix.* options in\n"
                    "build-users-group = nixbld\n"
                    "substituters = https://cache.nixos.org/ https://mirror.example/nix\n"
                    "trusted-substituters = https://trusted-only.example\n"
                    "extra-substituters = https://nix-community.cachix.org  # the community's\n"
                    "trusted-public-keys = cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=\n"
                    "extra-substituters = daemon file:///srv/cache https://cache.nixos.org\n")
    assert connectivity.substituters(conf) == ["https://cache.nixos.org", "https://mirror.example/nix",
                                               "https://nix-community.cachix.org"]
    conf.write_text("extra-substituters = https://early.example\nsubstituters = https://only.example\n")
    assert connectivity.substituters(conf) == ["https://only.example"]  # a later line replaces
    assert connectivity.substituters(tmp_path / "none") == ["https://cache.nixos.org"]
    conf.write_text("substituters =\n")
    assert connectivity.substituters(conf) == []
    assert "names no HTTP binary cache" in connectivity.check(nix_conf=conf).detail


def test_cache_answers(cache: str) -> None:
    result = connectivity.probe(cache)
    assert result.cache and result.internet
    assert result.words == f"Online: the binary cache {cache} answers."


def test_captive_portal_page_is_not_a_cache() -> None:
    class Portal(Cache):
        body = PORTAL
    for url in serve(Portal):
        result = connectivity.probe(url)
        assert result.internet and not result.cache
        assert "not a Nix cache" in result.detail


def test_http_error_is_online_but_no_cache() -> None:
    class Missing(Cache):
        status = 503
    for url in serve(Missing):
        result = connectivity.probe(url)
        assert (result.internet, result.cache) == (True, False)
        assert result.detail.startswith("it answered HTTP 503")


def test_refused_and_unresolvable() -> None:
    refused = connectivity.probe(f"http://127.0.0.1:{closed_port()}")
    assert not refused.cache and "refused the connection" in refused.detail
    nowhere = connectivity.probe("https://cache.invalid", timeout=5)
    assert (nowhere.internet, nowhere.cache) == (False, False)
    assert "cache.invalid does not resolve" in nowhere.detail
    assert nowhere.words.startswith("Not online: ")


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # the kernel completes the handshake; nobody ever reads or writes
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = connectivity.probe(url, timeout=0.3)
    assert not result.cache
    assert result.detail == f"no answer from 127.0.0.1:{url.rsplit(':', 1)[1]} within the time allowed."


def test_https_trusted_and_refused_certificate(cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    for url in serve(Cache, tls=cert):
        refused = connectivity.probe(url)
        assert (refused.internet, refused.cache) == (True, False)
        assert "certificate was refused" in refused.detail
        monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # OpenSSL's own way to name the trusted CAs
        assert connectivity.probe(url).cache


def test_check_takes_the_first_that_answers(cache: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    assert connectivity.check([dead, cache], timeout=2).url == cache
    worst = connectivity.check([dead], timeout=2)
    assert worst.url == dead and not worst.cache


class Proxy(socketserver.ThreadingTCPServer):
    """A real, tiny proxy: CONNECT host:port tunnels, absolute-URI GETs
    forwarded; every host is sent to `target` ("cache.invalid" resolves
    nowhere, so an answer proves the proxy carried the request)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.seen = target, []  # type: ignore[var-annotated]
        super().__init__(("127.0.0.1", 0), ProxyHandler)


class ProxyHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: Proxy = self.server  # type: ignore[assignment]
        head = []
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            head.append(line)
        method, target, _ = head[0].decode().split(" ", 2)
        server.seen.append(f"{method} {target}")
        upstream = socket.create_connection(server.target)
        if method == "CONNECT":
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            path = "/" + target.split("://", 1)[1].split("/", 1)[1]
            rest = [h for h in head[1:] if not h.lower().startswith((b"proxy-", b"connection:"))]
            upstream.sendall(f"{method} {path} HTTP/1.0\r\n".encode() + b"".join(rest) + b"\r\n")
        self.relay(upstream)

    def relay(self, upstream: socket.socket) -> None:
        ends = [self.connection, upstream]
        with upstream:
            while True:
                ready, _, _ = select.select(ends, [], [], 5)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)


def proxied(url: str) -> Iterator[tuple[Proxy, str]]:
    host, port = url.split("://", 1)[1].split(":")
    proxy = Proxy((host, int(port)))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield proxy, f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_http_through_the_proxy(cache: str) -> None:
    for proxy, address in proxied(cache):
        assert not connectivity.probe("http://cache.invalid").cache  # no proxy: no such name
        result = connectivity.probe("http://cache.invalid", proxy=address)
        assert result.cache, result.detail
        assert proxy.seen == ["GET http://cache.invalid/nix-cache-info"]


def test_https_through_the_proxy_by_connect(cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    for url in serve(Cache, tls=cert):
        for proxy, address in proxied(url):
            result = connectivity.check(["https://cache.invalid"], proxy=address)
            assert result.cache, result.detail
            assert proxy.seen == ["CONNECT cache.invalid:443"]


def test_proxy_that_is_not_there() -> None:
    result = connectivity.probe("https://cache.invalid", proxy=f"http://127.0.0.1:{closed_port()}")
    assert not result.cache and "refused the connection" in result.detail
