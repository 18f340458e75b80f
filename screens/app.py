"""The wizard: one Textual App for the whole run, one Screen per step.

The App owns the Session (the engine), the order of the steps and quitting;
each step screen edits `session.model` and asks the Session for everything
else. Blocking engine calls run in thread workers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import importlib
import signal
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import Reactive, reactive
from textual.scrollbar import ScrollBar

from screens.welcome import WelcomeScreen
from screens.widgets import HalfBlockScrollBarRender

if TYPE_CHECKING:
    from installer.flow.session import Session
    from installer.run.executor import Confirmation
    from installer.run.runner import InstallRunner

# Every scrollbar, drawn with glyphs the console font has (Textual's
# documented way to change how scrollbars are drawn).
ScrollBar.renderer = HalfBlockScrollBarRender

# The steps in order, as (module, class): only the first is imported up front;
# each later one is imported when first pushed, which keeps start-up short.
STEPS = (
    ("welcome", "WelcomeScreen"),
    ("network", "NetworkScreen"),
    ("keyboard", "KeyboardScreen"),
    ("disk", "DiskScreen"),
    ("encryption", "EncryptionScreen"),
    ("users", "UsersScreen"),
    ("software", "SoftwareScreen"),
    ("review", "ReviewScreen"),
    ("confirm", "ConfirmScreen"),
    ("install", "InstallScreen"),
)
STEP_NAMES = [name for _, name in STEPS]


def step_class(index: int) -> type:
    module, name = STEPS[index]
    return getattr(importlib.import_module(f"screens.{module}"), name)


# Key names as the console can draw them (Textual's defaults use arrows and U+23CE).
KEY_NAMES = {"escape": "Esc", "enter": "Enter", "tab": "Tab", "up": "Up", "down": "Down", "left": "Left",
             "right": "Right", "delete": "Del", "backspace": "BkSp"}


class InstallerApp(App[int]):
    CSS_PATH = "wizard.tcss"
    TITLE = "NixOS installer"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]

    # Only ANSI colours: the Linux console has 16 of them. The default, not a
    # value set at start-up: setting one re-parses all the CSS (~12 ms).
    theme = Reactive("ansi-dark")
    # True while the disk is being written: quitting is refused.
    writing = reactive(False)
    # "", "probing", "ready" or "failed: <why>"
    probe_state = reactive("")
    # "" until the binary cache was asked, "checking" while it is, then "checked" (its answer
    # is on the pre-flight: network_words) or "failed: <why>"
    network_state = reactive("")

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.exit_code = 0
        # The Confirm step's token, which the install phases need (None until then).
        self.confirmation: Confirmation | None = None
        self.reboot_requested = False
        self._terminated_by = 0
        self._signals: list[int] = []

    def on_mount(self) -> None:
        self.push_screen(WelcomeScreen())
        self.call_after_refresh(self.probe)
        self.call_after_refresh(self.check_network)
        # SIGTERM and SIGHUP (a shutdown, the console or SSH session gone) end the
        # run as Ctrl+C and "Quit" would, without asking: nobody may be there to answer.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self.terminated, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                continue
            self._signals.append(sig)
        self.set_interval(1.0, self._watch_terminal)

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals = []

    def terminated(self, sig: int) -> None:
        """SIGTERM/SIGHUP: stop nixos-install with everything it started, note it
        in the log and exit (code 1, as a stopped install). While the disk is being
        written the exit waits for the disk phase to end: half a partition table
        helps nobody."""
        if self._terminated_by:
            return
        self._terminated_by = sig
        # Stop first, note it after: a log on a full or read-only filesystem
        # must not keep the installer running (the handler ran once only).
        if not self.writing:
            self.run_worker(self._stop_and_exit(), exclusive=True, group="terminate")
        name = signal.Signals(sig).name
        self._note(f"{name}: the installer stops" + (" once the disk phase has ended" if self.writing else ""))

    def _note(self, text: str) -> None:
        """A line in the log, if the log can still take one."""
        try:
            self.session.log().line(text)
        except Exception:  # noqa: BLE001 (OSError and whatever a broken log raises): stopping matters more
            pass

    def _watch_terminal(self) -> None:
        """The terminal hung up without a SIGHUP reaching us (not our controlling tty,
        or the signal was lost): its ioctls then fail with EIO. Stop as on SIGHUP
        instead of running on as an orphan."""
        import sys
        import termios

        stream = sys.__stdin__
        if stream is None or self._terminated_by:
            return
        try:
            termios.tcgetattr(stream.fileno())
        except termios.error as error:
            if error.args and error.args[0] == errno.EIO:
                self.terminated(signal.SIGHUP)
        except (OSError, ValueError):
            return

    def watch_writing(self, writing: bool) -> None:
        terminated_by: int = getattr(self, "_terminated_by", 0)
        if not writing and terminated_by:
            self.run_worker(self._stop_and_exit(), exclusive=True, group="terminate")

    async def _stop_and_exit(self) -> None:
        runners = self.running_installs()
        for runner in runners:
            stopping = runner.stop(grace=2.0)
            # Called on the event loop, stop() hands back an awaitable; its
            # concurrent Future is for callers on other threads.
            if isinstance(stopping, concurrent.futures.Future):
                stopping = asyncio.wrap_future(stopping)
            await stopping
        name = signal.Signals(self._terminated_by).name
        self._note(f"{name}: " + ("stopped nixos-install and everything it started; " if runners else "")
                   + "the installer exits")
        self.exit_code = 1
        self.exit(1)

    def get_key_display(self, binding: Binding) -> str:
        key = binding.key_display or binding.key.split(",")[0]
        if key in KEY_NAMES:
            return KEY_NAMES[key]
        if key.startswith("ctrl+"):
            return "^" + key[5:].upper()
        return key.upper() if len(key) <= 3 else key

    # -- probing -----------------------------------------------------------------
    @work(thread=True, exclusive=True, group="probe")
    def probe(self) -> None:
        """Probe (or read the recorded machine) off the event loop, after the first frame."""
        self.call_from_thread(setattr, self, "probe_state", "probing")
        try:
            self.session.probe()
            self.session.apply_machine_defaults()
            self.session.propose_for_newcomer()
        except Exception as err:  # shown on the Welcome step, never a traceback
            self.call_from_thread(setattr, self, "probe_state", f"failed: {err}")
            return
        self.call_from_thread(setattr, self, "probe_state", "ready")

    @work(thread=True, exclusive=True, group="network")
    def check_network(self) -> None:
        """Ask the binary cache nixos-install will use (installer.flow.online), off the event
        loop: the Welcome step says the answer, and an online machine skips the Network step."""
        from installer.flow import online

        self.call_from_thread(setattr, self, "network_state", "checking")
        try:
            online.check(self.session)
            state = "checked"
        except Exception as err:  # said where the answer goes, never a traceback
            state = f"failed: {err}"
        self.call_from_thread(setattr, self, "network_state", state)

    def network_words(self) -> str:
        """The cache's answer as the Welcome and Network steps say it; "" while it is asked."""
        from installer.flow.online import status_line

        state = self.network_state
        if state in ("", "checking"):
            return ""
        if state.startswith("failed: "):
            return f"The network could not be checked: {state[8:]}"
        return status_line(self.session)

    def skips(self, name: str) -> bool:
        """A step with nothing to ask: the Network step when the binary cache answers."""
        return name == "NetworkScreen" and self.session.preflight.online is True

    # -- steps -----------------------------------------------------------------
    def step_number(self, step: type) -> tuple[int, int]:
        name = step.__name__
        return (STEP_NAMES.index(name) + 1 if name in STEP_NAMES else len(STEPS)), len(STEPS)

    def next_step(self) -> None:
        current = type(self.screen).__name__
        index = STEP_NAMES.index(current) if current in STEP_NAMES else len(STEPS) - 1
        index += 1
        while index + 1 < len(STEPS) and self.skips(STEP_NAMES[index]):
            index += 1
        if index < len(STEPS):
            self.push_screen(step_class(index)())

    def previous_step(self) -> None:
        # The first pushed screen sits on Textual's default screen: never pop that.
        if len(self.screen_stack) > 2 and not self.writing:
            self.pop_screen()

    def back_to(self, step: type) -> None:
        """Pop steps until `step` is on top (Install failure: back to review)."""
        while len(self.screen_stack) > 2 and type(self.screen) is not step:
            self.pop_screen()

    # -- quitting ----------------------------------------------------------------
    def _question_open(self) -> bool:
        """A question (Quit, Stop) is open: it is answered first, since a second
        one would hide it."""
        from screens.modals import AskScreen

        return isinstance(self.screen, AskScreen)

    def action_request_quit(self) -> None:
        from screens.modals import AskScreen

        if self._question_open():
            self.bell()
            return
        if self.writing:
            self.notify("The disk is being written; quitting now would leave it half done.", severity="error")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                # Never leave nixos-install running behind the installer.
                for runner in self.running_installs():
                    runner.kill_now()
                self.exit(self.exit_code)

        if self.running_installs() or self.confirmation is not None or self.session.machine is None:
            self.push_screen(AskScreen(self.quit_question(), yes="Quit"), answered)
            return
        # Before the install: what was typed in may be kept for the next try.
        from screens.review import answers_default

        path, note = answers_default(self.session)
        question = AskScreen(self.quit_question(), yes="Quit", save_to=path, save_note=note)

        def chosen(yes: bool | None) -> None:
            if yes and question.saving:
                try:
                    self.session.save_answers(path)
                except Exception as err:  # a full or read-only medium: said, and the person stays
                    self.notify(f"Could not save the answers to {path}: {err}", severity="error", markup=False)
                    return
            answered(yes)

        self.push_screen(question, chosen)

    def running_installs(self) -> list[InstallRunner]:
        """The session's install pipeline knows what runs (nixos-install)."""
        return self.session.install.running()

    def quit_question(self) -> str:
        """Quit? and what quitting now means, for where the install is."""
        from screens.done import DoneScreen

        if self.running_installs():
            return ("Quit the installer? nixos-install is running: it will be stopped, and the new "
                    "system will not be complete.")
        if not self.session.options.real:
            return "Quit the installer? This is a dry run: nothing was written."
        if any(isinstance(s, DoneScreen) for s in self.screen_stack):
            return "Quit the installer? NixOS is installed; reboot to start it."
        if self.confirmation is not None:
            return ("Quit the installer? The install has not finished: the disk was changed, but the "
                    "new system is not complete.")
        return "Quit the installer? Nothing has been written to any disk."

    def action_interrupt(self) -> None:
        """Ctrl+C: the install pane's Stop question, else the Quit question."""
        from textual.screen import ModalScreen

        if self._question_open():
            self.bell()
            return
        step = next((s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen)), None)
        stop = getattr(step, "request_stop", None)
        if stop is not None:
            stop()
        else:
            self.action_request_quit()


def run_wizard(session: Session) -> int:
    """Run the wizard on `session`; the process exit code."""
    app = InstallerApp(session)
    result = app.run()
    if app.reboot_requested:
        from screens import engine

        engine.reboot(session)
    if result is None:
        return app.return_code or app.exit_code
    return int(result)
