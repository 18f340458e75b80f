"""Step 2: get online. The interfaces, whether the binary cache answers, the Wi-Fi
networks in range, joining one (a masked password), and an HTTP proxy.

The engine does the work (installer.flow.online: survey, join, check), each call
in a thread worker: nmcli waits for the network, the cache gets seconds to
answer. The SSID and password typed here reach the answers only once the
network was joined, so the new system never keeps a network that was refused.
A machine already online never sees this step (InstallerApp.skips).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from screens.base import StepScreen
from screens.widgets import Check, FieldInput, FieldMessage, SecretInput

if TYPE_CHECKING:
    from installer.flow.online import Survey
    from installer.run.network import WifiNetwork

SSID, PASSWORD = "network.wifi_ssid", "network.wifi_password"


def bars(signal: int) -> str:
    """A signal of 0-100 as four cells of full and light shade (both in the console's cp437 font)."""
    filled = 0 if signal <= 0 else min(4, 1 + signal * 4 // 101)
    return "\u2588" * filled + "\u2591" * (4 - filled)


def network_row(net: WifiNetwork, width: int = 74) -> str:
    """One row of the list: the name (cut to fit), the bars, the security in words."""
    security = "open" if net.open else net.security
    name_width = width - 1 - 2 - 4 - 2 - 12  # the in-use mark, the bars and the security, two apart
    name = net.ssid if len(net.ssid) <= name_width else net.ssid[:name_width - 3] + "..."
    mark = "*" if net.in_use else " "
    return f"{mark}{name:<{name_width}}  {bars(net.signal)}  {security[:12]:<12}"


def interface_lines(survey: Survey) -> str:
    if not survey.interfaces:
        return "No network interface was found."
    return "\n".join(f"  {i.name:<16}{i.kind:<10}{i.state:<14}{i.address}" for i in survey.interfaces)


class WifiList(OptionList):
    """The networks in range, strongest first; Enter picks one."""


class NetworkScreen(StepScreen):
    TITLE_TEXT = "Network"
    PREFIXES = ("network.proxy",)
    HELP = (
        "The install downloads NixOS from the binary cache, so it needs the internet; the line at the "
        "top says whether the cache answers. A cable needs nothing here. For Wi-Fi, pick a network with "
        "Up/Down and Enter, type its password and press Enter to join (F5 scans again). A network that "
        "does not announce its name: type the name, tick 'Hidden', then the password. The password is "
        "kept only in the new system's root-only network settings, never in the saved answers or the "
        "log. Without the cache, only what is already on this ISO can be installed. The proxy, if your "
        "network needs one (http://host:port), is used for the check and for the install."
    )
    BINDINGS = [Binding("f5", "rescan", "Scan again")]

    def __init__(self) -> None:
        super().__init__()
        self.survey: Survey | None = None
        self.picked: WifiNetwork | None = None
        self.joining = False

    def body(self) -> ComposeResult:
        yield Static("", id="reach", markup=False)
        yield Static("", id="interfaces", markup=False)
        yield Static("Wi-Fi networks (F5 scans again)", id="wifi-label", classes="label", markup=False)
        yield Static("", id="wifi-problem", classes="hint", markup=False)
        yield WifiList(id="networks", compact=True, markup=False)
        with Horizontal(id="ssid-row", classes="wifi-row"):
            yield Static("Network name", classes="label", markup=False)
            yield FieldInput(SSID, placeholder="pick above, or type a hidden one's name")
            yield Check("Hidden", id="hidden", compact=True)
        with Horizontal(id="password-row", classes="wifi-row"):
            yield Static("Password", classes="label", markup=False)
            yield SecretInput(PASSWORD)
            yield Button("Connect", id="connect", compact=True)
        yield Static("", id="joined", classes="message", markup=False)
        with Horizontal(classes="wifi-row"):
            yield Static("HTTP proxy", classes="label", markup=False)
            yield FieldInput("network.proxy", self.model.network.proxy,
                             placeholder="optional, e.g. http://proxy.example:3128")
        yield FieldMessage("network.proxy")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "network_state", self.show_reach)
        self.query_one("#networks", WifiList).focus()
        self.scan(rescan=False)

    # -- what the machine says ---------------------------------------------------
    def show_reach(self, state: str = "") -> None:
        said = self.app.network_words()
        if not said and self.app.network_state in ("", "checking"):
            words = "Checking whether the binary cache answers..."
        else:
            words = said + (" F10 goes on." if self.session.preflight.online else "")
        reach = self.query_one("#reach", Static)
        reach.update(words)
        reach.set_class(self.session.preflight.online is True, "-online")

    def scan(self, rescan: bool) -> None:
        if rescan:
            self.query_one("#wifi-problem", Static).update("Scanning...")
        self.run_worker(lambda: self._survey(rescan), thread=True, group="survey", exclusive=True)

    def _survey(self, rescan: bool) -> None:
        from installer.flow import online

        found = online.survey(self.session, rescan=rescan)
        self.app.call_from_thread(self.show_survey, found)

    def show_survey(self, survey: Survey) -> None:
        if not self.is_attached:
            return
        self.survey = survey
        self.query_one("#interfaces", Static).update(interface_lines(survey))
        problem = self.query_one("#wifi-problem", Static)
        listing = self.query_one("#networks", WifiList)
        highlighted = listing.highlighted_option.id if listing.highlighted_option is not None else None
        listing.clear_options()
        listing.add_options([Option(network_row(n), id=n.ssid) for n in survey.networks])
        ssids = [n.ssid for n in survey.networks]
        if ssids:  # the same network stays under the cursor when a scan reorders the list
            listing.highlighted = ssids.index(highlighted) if highlighted in ssids else 0
        if survey.problem:
            problem.update(survey.problem)
        elif not survey.networks:
            problem.update("No Wi-Fi network in range; F5 scans again. A hidden one: type its name below.")
        else:
            problem.update("")
        listing.display = bool(survey.networks)
        for row in ("#ssid-row", "#password-row"):  # nothing to join with: no fields to fill
            self.query_one(row).display = not survey.problem
        for widget in self.wifi_widgets():
            widget.disabled = bool(survey.problem) or self.joining
        if survey.problem and self.focused is listing:
            self.query_one("#f-network-proxy").focus()

    def wifi_widgets(self) -> list[Widget]:
        return [self.query_one("#f-network-wifi_ssid"), self.query_one("#hidden"),
                self.query_one("#f-network-wifi_password"), self.query_one("#connect")]

    def action_rescan(self) -> None:
        self.scan(rescan=True)
        self.app.check_network()

    # -- picking and typing ------------------------------------------------------
    @on(OptionList.OptionSelected, "#networks")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        net = next((n for n in self.survey.networks if n.ssid == event.option.id), None) if self.survey else None
        if net is None:
            return
        self.picked = net
        self.query_one("#f-network-wifi_ssid", FieldInput).value = net.ssid
        self.query_one("#hidden", Check).value = False
        self.query_one("#joined", Static).display = False
        if net.open:
            self.connect()
        else:
            self.query_one("#f-network-wifi_password").focus()

    def store(self, field: str, value: str) -> None:
        # The typed network and password stay in their fields until joining succeeds (join writes the answers).
        if field not in (SSID, PASSWORD):
            super().store(field, value)

    def field_entered(self, field: Widget) -> None:
        name = getattr(field, "field", "")
        if name == PASSWORD:
            self.connect()
            return
        if name == "network.proxy" and not self.refresh_problems():
            self.app.check_network()  # asked again, through the proxy now
        super().field_entered(field)

    @on(Button.Pressed, "#connect")
    def _connect_pressed(self) -> None:
        self.connect()

    # -- joining -------------------------------------------------------------------
    def connect(self) -> None:
        if self.joining or (self.survey is not None and self.survey.problem):
            return
        # As the fields show them now (a pick fills the name before its Changed event comes back).
        ssid = self.query_one("#f-network-wifi_ssid", FieldInput).value.strip()
        password = self.query_one("#f-network-wifi_password", SecretInput).value
        picked = self.picked if self.picked is not None and self.picked.ssid == ssid else None
        hidden = self.query_one("#hidden", Check).value
        self.joining = True
        for widget in self.wifi_widgets():
            widget.disabled = True
        self.say(f"Joining {ssid!r}..." if ssid else "", "")
        security = picked.security if picked is not None else None
        device = self.survey.device if self.survey is not None else ""
        self.run_worker(lambda: self._join(ssid, password or None, hidden, security, device),
                        thread=True, group="join", exclusive=True)

    def _join(self, ssid: str, password: str | None, hidden: bool, security: str | None, device: str) -> None:
        from installer.flow import online
        from installer.run.network import NetworkError

        try:
            said, ok = online.join(self.session, ssid, password, hidden=hidden, security=security, device=device), True
        except NetworkError as err:
            said, ok = str(err), False
        self.app.call_from_thread(self.joined, said, ok)

    def joined(self, said: str, ok: bool) -> None:
        self.joining = False
        if not self.is_attached:
            return
        for widget in self.wifi_widgets():
            widget.disabled = False
        self.say(said, "" if ok else "-error")
        self.show_reach()
        if ok:
            self.scan(rescan=False)
            if self.session.options.real:
                self.app.check_network()
            self.query_one("#next").focus()
        else:
            # The password stays as typed, to be corrected rather than typed again.
            self.app.bell()
            self.query_one("#f-network-wifi_password").focus()

    def say(self, text: str, severity: str) -> None:
        joined = self.query_one("#joined", Static)
        joined.update(text)
        joined.set_class(severity == "-error", "-error")
        joined.display = bool(text)
