"""Importing SSH public keys (issue 22 item 3): where from, which lines are keys,
the SSH server proposed with the first key, and the fetch against a real local
HTTPS server standing in for GitHub's https://github.com/USER.keys."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import ssh_key, valid_model
from test_screens_support import app_for, make_session, message_of, open_step, until

from installer.answers.sshkeys import GITHUB_KEYS, GITLAB_KEYS, key_source, keys_in, propose_ssh_server
from installer.answers.validate import SSH_SERVER_OFF, validate
from installer.machine.hardware import Disk, Partition
from installer.run.fetch import FetchError, fetch_text

ALICE = [ssh_key("ssh-ed25519", "alice@laptop"), ssh_key("ssh-rsa", "alice@desk")]


@pytest.mark.parametrize("typed, url", [
    ("alice", GITHUB_KEYS.format(user="alice")),
    ("github:al-ice", GITHUB_KEYS.format(user="al-ice")),
    ("GitLab:a.l_ice", GITLAB_KEYS.format(user="a.l_ice")),
    ("  https://keys.example/alice  ", "https://keys.example/alice"),
])
def test_a_typed_source_names_its_url(typed, url):
    assert key_source(typed).url == url and not key_source(typed).problem


@pytest.mark.parametrize("typed, said", [
    ("", "GitHub user name"),
    ("http://keys.example/alice", "https://"),
    ("-alice", "not a GitHub user name"),
    ("github:al--ice", "not a GitHub user name"),
    ("bitbucket:alice", "is not a GitHub user name, gitlab:NAME"),
    ("https://keys.example/a b", "no spaces"),
])
def test_a_source_that_names_nothing_says_why(typed, said):
    found = key_source(typed)
    assert not found.url and said in found.problem


def test_keys_in_keeps_each_new_key_once_and_counts_the_rest():
    text = "\n".join(["# my keys", ALICE[0], "", ALICE[0], 'from="10.0.0.1" ' + ALICE[1], ALICE[1], "junk"])
    found = keys_in(text, have=[ALICE[0].rsplit(" ", 1)[0] + " other-comment"])
    assert found.keys == (ALICE[1],)  # the first is had already (same key, another comment)
    assert found.skipped == 2  # the line with options, and the junk
    assert found.summary("GitHub user alice") == "1 key imported from GitHub user alice (2 other lines skipped)"
    assert keys_in("").summary("x") == "no SSH public keys found in x"


def test_the_first_key_turns_the_ssh_server_on_and_later_ones_leave_it():
    model = valid_model()
    model.software.ssh_server = False
    model.users[0].ssh_keys = []
    assert not propose_ssh_server(model, had_keys=False)  # no keys: nothing to serve
    model.users[0].ssh_keys = [ALICE[0]]
    assert propose_ssh_server(model, had_keys=False) and model.software.ssh_server
    model.software.ssh_server = False  # the person turns it off again
    model.users[0].ssh_keys = ALICE[:]
    assert not propose_ssh_server(model, had_keys=True) and not model.software.ssh_server


def test_keys_with_the_server_off_are_warned_about_not_refused():
    model = valid_model()
    model.users[0].ssh_keys = [ALICE[0]]
    model.software.ssh_server = False
    found = [p for p in validate(model) if p.field == "users[0].ssh_keys"]
    assert [(p.message, p.severity) for p in found] == [(SSH_SERVER_OFF, "warning")]
    model.software.ssh_server = True
    assert not [p for p in validate(model) if p.field == "users[0].ssh_keys"]


# -- a real HTTPS server with its own certificate authority ----------------------
@pytest.fixture(scope="module")
def keys_server(tmp_path_factory):
    """https://127.0.0.1:PORT/ serving /alice.keys (as GitHub does: one key per line),
    /big.keys (too big to be keys) and 404 for the rest; and an SSL context trusting it."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", d / "key.pem", "-out", d / "cert.pem", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    pages = {"/alice.keys": ("\n".join(ALICE) + "\n").encode(), "/big.keys": b"x" * (300 * 1024)}
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body or b"Not Found")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(d / "cert.pem", d / "key.pem")
    server.socket = served.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trusting = ssl.create_default_context(cafile=str(d / "cert.pem"))
    yield f"https://127.0.0.1:{server.server_address[1]}", trusting, asked
    server.shutdown()


def test_fetch_reads_the_keys_over_verified_https(keys_server):
    base, trusting, _ = keys_server
    assert fetch_text(base + "/alice.keys", context=trusting).splitlines() == ALICE
    with pytest.raises(FetchError, match="was not found"):
        fetch_text(base + "/nobody.keys", context=trusting)
    with pytest.raises(FetchError, match="more than 256 KiB"):
        fetch_text(base + "/big.keys", context=trusting)
    # The system's authorities do not know this certificate: refused, with the reason.
    with pytest.raises(FetchError, match="certificate could not be verified"):
        fetch_text(base + "/alice.keys")
    with pytest.raises(FetchError, match="only https"):
        fetch_text(base.replace("https", "http") + "/alice.keys", context=trusting)


async def test_users_step_imports_keys_from_a_url_and_proposes_the_ssh_server(keys_server):
    from screens.sshkeys import ImportKeysScreen
    from screens.users import UsersScreen

    base, trusting, asked = keys_server
    app = app_for()
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await open_step(pilot, UsersScreen)
        app.session.model.software.ssh_server = False
        box = screen.query_one("#f-software-ssh_server")
        assert not box.display  # no keys: nothing to offer
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, ImportKeysScreen) and app.screen.is_mounted)
        app.screen.ssl_context = trusting
        await pilot.press(*base + "/alice.keys", "enter")
        await until(pilot, lambda: app.screen is screen)
        assert "/alice.keys" in asked
        assert app.session.model.users[0].ssh_keys == ALICE
        # The keys are for the SSH server: it is on now, and offered right here.
        assert app.session.model.software.ssh_server and box.display and box.value
        # Turned off again, the keys get the warning at their field.
        box.focus()
        await pilot.press("space")
        await until(pilot, lambda: SSH_SERVER_OFF in message_of(screen, "users[0].ssh_keys"))
        assert not app.session.model.software.ssh_server


async def test_a_failed_fetch_says_why_in_the_dialog_and_keeps_it_open(keys_server):
    from screens.sshkeys import ImportKeysScreen
    from screens.users import UsersScreen

    base, trusting, _ = keys_server
    app = app_for()
    async with app.run_test(size=(80, 25)) as pilot:
        await open_step(pilot, UsersScreen)
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, ImportKeysScreen) and app.screen.is_mounted)
        dialog = app.screen
        dialog.ssl_context = trusting
        await pilot.press(*base + "/nobody.keys", "enter")
        await until(pilot, lambda: "was not found" in str(dialog.query_one("#import-status").content))
        assert app.screen is dialog and app.session.model.users[0].ssh_keys == []
        await pilot.press("escape")
        assert app.screen is not dialog


async def test_keys_come_from_a_file_on_a_mounted_usb_stick(tmp_path):
    from textual.widgets import DirectoryTree

    from screens.sshkeys import NO_STICK, ImportKeysScreen
    from screens.users import UsersScreen

    stick = tmp_path / "stick"
    (stick / "keys").mkdir(parents=True)
    (stick / "keys" / "id_ed25519.pub").write_text(ALICE[0] + "\n")
    session = make_session()
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        await open_step(pilot, UsersScreen)
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, ImportKeysScreen) and app.screen.is_mounted)
        dialog = app.screen
        # No stick mounted on this machine: said, with how to mount one.
        session.machine.disks = [d for d in session.machine.disks if not d.detachable]
        await pilot.press("f5")
        assert str(dialog.query_one("#import-status").content) == NO_STICK
        session.machine.disks.append(Disk(
            path="/dev/sdc", name="sdc", size=8 * 2**30, model="Kingston DT", bus="usb", removable=True,
            partitions=[Partition(path="/dev/sdc1", number=1, size=8 * 2**30, fstype="vfat",
                                  mountpoint=str(stick))]))
        await pilot.press("f5", "enter")  # the one stick
        await until(pilot, lambda: dialog.query(DirectoryTree) and dialog.focused is dialog.query_one(DirectoryTree))
        tree = dialog.query_one(DirectoryTree)
        await until(pilot, lambda: tree.last_line >= 0 and tree.cursor_node is not None
                    and len(tree.root.children) == 1)
        await pilot.press("down", "enter")  # opens keys/
        await until(pilot, lambda: tree.cursor_node.children)
        await pilot.press("down", "enter")  # picks keys/id_ed25519.pub
        await until(pilot, lambda: app.screen is not dialog)
        assert app.session.model.users[0].ssh_keys == [ALICE[0]]
