"""Step 3: which disk, how to lay it out, filesystem and swap, with a preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on, work
from rich.text import Text
from textual.app import ComposeResult, SuspendNotSupported
from textual.containers import Horizontal
from textual.widgets import Button, OptionList, RadioSet, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from installer.answers.model import Filesystem, SwapKind
from installer.answers.resolve import KEEP_LAYOUTS, install_disk
from installer.base.problems import ProblemsError
from installer.machine.eligibility import disk_verdict, editor_verdict
from installer.flow import DryRun
from installer.plan import diskbar
from installer.plan.offers import Offer, offers, refusal_lines, size_range
from installer.plan.erase import lost_words
from screens import engine
from screens.base import StepScreen
from screens.widgets import Choices, FieldInput, FieldMessage, Radio, field_id, picked

if TYPE_CHECKING:
    from installer.base.problems import Problem
    from installer.machine.hardware import Disk

PREMOUNTED = "Use what is mounted at the target (partitioned by hand)"
FILESYSTEMS: tuple[Filesystem, ...] = ("ext4", "btrfs", "xfs")
SWAPS: dict[SwapKind, str] = {"zram": "zram (compressed RAM)", "partition": "swap partition",
                              "hibernate": "hibernate (swap = RAM)", "none": "none"}
LIST_ROWS = 4  # offered disks shown at once; more scroll
REFUSED_ROWS = 3  # refused disks listed under them, always in view
WAY_ROWS = 4  # the ways offered on the highlighted disk shown at once; more scroll
NOT_OFFERED_ROWS = 2  # the ways not offered there, with why


def way_id(offer: Offer) -> str:
    return f"{offer.way}:{offer.part.path}" if offer.part is not None else offer.way


def columns(name: str, size: str, bus: str, model: str, what: str, width: int) -> str:
    """One row of the disk table, cut with "..." to fit `width` (never wrapped)."""
    return cut(f"{name:<8} {size:>9}  {bus:<6} {cut(model, 20):<20} {what}", width)


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)].rstrip() + "..."


def disk_line(disk, width: int) -> str:
    what = f"not offered: {disk.refused}" if disk.refused else disk.holds or "empty"
    return columns(disk.name, engine.human_size(disk.size), disk.bus, disk.model or "disk", what, width)


def refused_lines(disks, width: int) -> list[str]:
    """The disks never offered, with why; the last row sums up any that do not fit."""
    if len(disks) <= REFUSED_ROWS:
        return [disk_line(d, width) for d in disks]
    shown = [disk_line(d, width) for d in disks[: REFUSED_ROWS - 1]]
    rest = disks[REFUSED_ROWS - 1:]
    return shown + [cut(f"and {len(rest)} more not offered: " + ", ".join(d.name for d in rest), width)]


def in_full(disk) -> str:
    """What a row of the table says about a disk, never cut."""
    if disk.refused:
        return f"{disk.name} is not offered: {disk.refused}"
    return f"{disk.name} holds: {disk.holds or 'nothing (empty)'}"


def no_disk_text(disks) -> str:
    """The Disk step's words when no disk can take NixOS: each disk and why, whole."""
    lines = ["No disk on this machine can take NixOS:"]
    lines += [f"  {d.name} ({engine.human_size(d.size)}): {d.refused}" for d in disks] or ["  (no disk was found)"]
    lines.append("Free or repartition one (Shell, or gdisk on the highlighted disk), or attach another disk; "
                 "then Rescan.")
    return "\n".join(lines)


class DiskList(OptionList):
    """The disks to choose from, one row each; it edits disk.device."""

    field = "disk.device"


class WayList(OptionList):
    """The ways to use the highlighted disk (installer.plan.offers), the most room first,
    then "use what is mounted"; it edits disk.layout (and disk.shrink or disk.replace)."""

    field = "disk.layout"


class DiskScreen(StepScreen):
    TITLE_TEXT = "Disk"
    PREFIXES = ("disk", "boot")
    HELP = (
        "Up/Down chooses the disk; below it, the ways NixOS can go onto it, the most room first. "
        "'Erase' makes a new partition table on it: everything on that disk is lost (you confirm by "
        "typing its name later). The others keep what is on it: 'Use the free space' touches no "
        "partition; 'Shrink' makes one partition smaller from its end (Windows or another Linux keeps "
        "what it holds plus room to grow) and puts NixOS after it; 'Replace' deletes one partition "
        "(what it holds is lost) and puts NixOS in its place. NixOS's share is asked in GiB (0: all "
        "the room there is). The bars show the disk today and after. A way that cannot work is "
        "listed under them with why; the EFI system partition and Windows' reserved partition are "
        "never shrunk nor replaced. 'Use what is mounted' installs into the "
        "filesystems you mounted at the target yourself (e.g. after cfdisk, mkfs and mount in a shell). "
        "cfdisk/gdisk open the partition editor on the highlighted disk; Shell opens a shell to "
        "format and mount by hand. The disks are probed again when you quit either, and when you "
        "press Rescan (after plugging in a disk, say). A disk that cannot take NixOS (this ISO's, "
        "one in use, an optical drive, one too small) is never offered; it is listed under the "
        "others with the reason. When no disk is offered, every disk is listed with why."
    )

    def body(self) -> ComposeResult:
        d = self.model.disk
        yield Static("", id="no-disk", markup=False)
        yield Static(columns("Disk", "size", "bus", "model", "holds today", 200), classes="label", markup=False)
        yield DiskList(id="f-disk-device", compact=True, markup=False)
        yield Static("", id="why", markup=False)
        yield Static("", id="refused", markup=False)
        yield FieldMessage("disk.device")
        yield Static("", id="ways-label", markup=False)
        yield WayList(id="f-disk-layout", compact=True, markup=False)
        yield Static("", id="bars", markup=False)
        yield Static("", id="not-offered", markup=False)
        yield FieldMessage("disk.layout")
        yield FieldMessage("disk.shrink")
        yield FieldMessage("disk.replace")
        with Horizontal(id="tools"):
            yield Static("Partition it yourself:", classes="label")
            yield Button("cfdisk", id="cfdisk", compact=True)
            yield Button("gdisk", id="gdisk", compact=True)
            yield Button("Shell", id="shell", compact=True)
            yield Button("Rescan", id="rescan", compact=True)
        yield Static("", id="tool-status", classes="hint", markup=False)
        with Horizontal(classes="columns"):
            with Choices(id="f-disk-filesystem", field="disk.filesystem"):
                for fs in FILESYSTEMS:
                    yield Radio(fs, d.filesystem == fs, id=f"fs-{fs}")
            with Choices(id="f-disk-swap", field="disk.swap"):
                for swap, text in SWAPS.items():
                    yield Radio(text, d.swap == swap, id=f"swap-{swap}")
        yield FieldMessage("disk.swap")
        with Horizontal(classes="size-row"):
            yield Static("Swap partition size (MiB)", classes="label")
            yield FieldInput("disk.swap_size_mib", str(d.swap_size_mib))
        yield FieldMessage("disk.swap_size_mib")
        with Horizontal(classes="size-row", id="share-row"):
            yield Static("", id="share-label", classes="label", markup=False)
            yield FieldInput("disk.size_gib", str(d.size_gib))
        yield FieldMessage("disk.size_gib")
        yield FieldMessage("disk.shrink_to_gib")
        yield FieldMessage("disk.esp_size_mib")
        yield FieldMessage("boot")
        yield Static("", id="preview", markup=False)

    def on_mount(self) -> None:
        self.fill_disks()
        self.sync()
        self.query_one("#f-disk-device").focus()

    def fill_disks(self) -> None:
        """Offered disks in the list, one row each; refused ones under it, where
        they stay in view (a disabled option could not be scrolled to). With
        none offered, the list holds every disk (to open gdisk on one) and the
        step says so, with every disk's reason whole."""
        machine = self.session.machine
        options = self.query_one("#f-disk-device", OptionList)
        refused = self.query_one("#refused", Static)
        no_disk = self.query_one("#no-disk", Static)
        options.clear_options()
        if machine is None:
            no_disk.display = refused.display = False
            self.show_why()
            return
        width = max(self.app.size.width - 4, 40)  # the body's padding and a scrollbar
        offered = machine.offered_disks
        listed = offered or machine.disks
        options.add_options(Option(disk_line(d, width), id=d.path) for d in listed)
        options.styles.height = min(LIST_ROWS, max(1, len(listed)))
        lines = refused_lines([d for d in machine.disks if d.refused and d not in listed], width)
        refused.update("\n".join(lines))
        refused.display = bool(lines)
        no_disk.update(no_disk_text(machine.disks) if not offered else "")
        no_disk.display = not offered
        # The answers may name the disk by any of its names (a by-id link, say), or by a match rule.
        chosen = install_disk(self.model, machine)[0]
        if chosen in offered:
            options.highlighted = offered.index(chosen)
        elif listed and (self.model.disk.layout != "premounted" or not offered):
            options.highlighted = 0
        self.show_why()
        self.fill_ways()

    def fill_ways(self) -> None:
        """The ways the highlighted disk offers, and why the others are not: the model's
        choice highlighted, else the way with the most room."""
        ways = self.query_one("#f-disk-layout", WayList)
        not_offered = self.query_one("#not-offered", Static)
        machine, disk = self.session.machine, self.highlighted_disk()
        found = offers(self.model, machine, disk) if machine is not None and disk is not None else []
        if disk is not None and machine is not None and not disk_verdict(disk, machine).ok:
            found = []  # listed only to open a partition editor on it: its reason is on its row
        self.offers = {way_id(o): o for o in found if o.offered}
        width = max(self.app.size.width - 4, 40)
        ways.clear_options()
        ways.add_options([Option(cut(o.words(), width), id=key) for key, o in self.offers.items()]
                         + [Option(PREMOUNTED, id="premounted")])
        ways.styles.height = min(WAY_ROWS, ways.option_count)
        self.query_one("#ways-label", Static).update(
            f"How NixOS goes onto {disk.name}:" if disk is not None and self.offers else "How NixOS goes on:")
        lines = [cut(f"Not offered: {line}", width) for line in refusal_lines(found, NOT_OFFERED_ROWS)]
        not_offered.update("\n".join(lines))
        not_offered.display = bool(lines)
        d = self.model.disk
        named = {"alongside": d.shrink, "replace": d.replace}.get(d.layout, "")
        wanted = "premounted" if d.layout == "premounted" else next(
            (key for key, o in self.offers.items()
             if o.way == d.layout and (o.part is None or named in (o.part.path, o.part.path.removeprefix("/dev/")))),
            None)
        keys = [*self.offers, "premounted"]
        if wanted in keys or self.offers:
            ways.highlighted = keys.index(wanted) if wanted in keys else 0
        # else: no way offered on this disk; the layout stays as it is until a person picks one

    def highlighted_disk(self) -> Disk | None:
        options = self.query_one("#f-disk-device", OptionList)
        machine = self.session.machine
        if machine is None or options.highlighted is None or not options.option_count:
            return None
        return machine.disk(options.get_option_at_index(options.highlighted).id or "")

    def show_why(self) -> None:
        """The highlighted disk's row in full, below the table, when the row was cut."""
        why = self.query_one("#why", Static)
        disk = self.highlighted_disk()
        width = max(self.app.size.width - 4, 40)
        full = in_full(disk) if disk is not None else ""
        # An offered disk's whole "holds" is in the erase preview already.
        shown = disk is not None and disk_line(disk, width).endswith("...") and (
            bool(disk.refused) or self.model.disk.layout != "erase")
        why.update(full if shown else "")
        why.display = shown

    def on_resize(self, event: events.Resize) -> None:
        # Each row is cut to the width it had: cut again to the new one.
        self.fill_disks()

    @on(OptionList.OptionHighlighted, "#f-disk-device")
    def _disk(self, event: OptionList.OptionHighlighted) -> None:
        machine = self.session.machine
        self.show_why()
        if machine is None:
            return
        highlighted = machine.disk(event.option.id or "")
        if highlighted is None or not disk_verdict(highlighted, machine).ok:
            return  # listed only to open a partition editor on it (no disk is offered)
        named = install_disk(self.model, machine)[0]
        if named is None or named.path != event.option.id:
            # Another disk. The one already chosen keeps the name the answers gave it.
            self.model.disk.device = event.option.id or ""
        self.touched.add("disk.device")
        self.fill_ways()
        self.sync()

    @on(OptionList.OptionHighlighted, "#f-disk-layout")
    def _way(self, event: OptionList.OptionHighlighted) -> None:
        d = self.model.disk
        offer = self.offers.get(event.option.id or "")
        layout = offer.way if offer is not None else "premounted"
        part = offer.part.path if offer is not None and offer.part is not None else ""
        before = (d.layout, d.shrink, d.replace)
        d.layout = layout  # type: ignore[assignment]  # one of LAYOUTS: an offer's way, or premounted
        d.shrink = part if layout == "alongside" else ""
        d.replace = part if layout == "replace" else ""
        if (d.layout, d.shrink, d.replace) != before:
            d.size_gib = d.shrink_to_gib = 0  # the share asked anew for another way
            self.query_one("#" + field_id("disk.size_gib"), FieldInput).value = "0"
        self.touched.add("disk.layout")
        self.sync()

    @on(OptionList.OptionSelected, "#f-disk-layout")
    def _way_chosen(self) -> None:
        self.advance()

    @on(OptionList.OptionSelected, "#f-disk-device")
    def _disk_chosen(self) -> None:
        self.advance()

    @on(RadioSet.Changed)
    def _radio(self, event: RadioSet.Changed) -> None:
        key = (event.pressed.id or "").split("-", 1)[1]
        choices = event.radio_set
        if not isinstance(choices, Choices):
            return  # every radio set here is a Choices, which names its field
        field = choices.field
        if field == "disk.filesystem":
            self.model.disk.filesystem = picked(FILESYSTEMS, key)
        elif field == "disk.swap":
            self.model.disk.swap = picked(SWAPS, key)
        self.touched.add(field)
        self.sync()

    def store(self, field: str, value: str) -> None:
        if field == "disk.swap_size_mib":
            self.model.disk.swap_size_mib = int(value) if value.strip().isdigit() else 0
        elif field == "disk.size_gib":
            self.model.disk.size_gib = int(value) if value.strip().isdigit() else 0
        else:
            super().store(field, value)

    def after_change(self, field: str) -> None:
        self.sync()

    def sync(self) -> None:
        d = self.model.disk
        makes = d.layout != "premounted"  # erase and the keep layouts make NixOS's partitions
        self.query_one("#" + field_id("disk.swap_size_mib")).disabled = d.swap != "partition" or not makes
        self.query_one("#f-disk-filesystem").disabled = not makes
        keeps = d.layout in KEEP_LAYOUTS
        offer = next((o for o in getattr(self, "offers", {}).values() if o.way == d.layout
                      and (o.part is None or o.part.path in (d.shrink, d.replace))), None)
        if offer is not None:
            self.query_one("#share-label", Static).update(
                f"NixOS's share in GiB, {size_range(offer.need, offer.room)} (0: all of it)")
        self.query_one("#share-row").display = keeps
        errors = self.refresh_problems()
        self.query_one("#bars", Static).update("" if errors else self.bars())
        self.query_one("#preview", Static).update(self.preview(errors))

    def on_screen_resume(self) -> None:
        # Back from a later step (LUKS turned on at Encryption puts a /boot
        # partition in a BIOS plan): the preview is the plan as it is now.
        if self.is_mounted:
            self.sync()

    def bars(self) -> str:
        """The disk today and after, as two bars and the words of what changes (installer.plan.diskbar)."""
        try:
            plan = self.session.plan()
        except Exception:  # the preview below says why there is no plan
            return ""
        if plan.disk is None:
            return ""
        return "\n".join(diskbar.picture(plan.disk, plan, max(self.app.size.width - 4, 40)))

    def preview(self, errors: list[Problem]) -> str | Text:
        # The preview is the plan, and only a plan from valid choices (`errors`:
        # this step's, the planner's refusals among them): an invalid swap size
        # would otherwise show as a partition of 0 B.
        if errors and self.model.disk.layout == "premounted":
            return self.premounted_help(errors[0].message)
        if errors:
            return "Preview: fix the choices above first (" + errors[0].message + ")"
        try:
            plan = self.session.plan()
        except ProblemsError as err:
            if self.model.disk.layout == "premounted":
                return self.premounted_help(err.problems[0].message)
            return "Preview: fix the choices above first (" + err.problems[0].message + ")"
        except Exception as err:  # the planner is the engine's; never a traceback here
            return f"Preview not available: {err}"
        if plan.layout == "premounted":
            mounts = ", ".join(f"{f.mountpoint} ({f.fstype})" for f in plan.filesystems) or "nothing mounted yet"
            return f"Install into what is mounted at {self.session.options.target}: {mounts}"
        if plan.layout in KEEP_LAYOUTS:  # what is kept, shrunk or deleted, every kept partition named
            return "\n".join(plan.summary_lines())
        text = Text()
        if plan.disk is not None:
            # The row above is cut to the screen's width; what is lost is said whole,
            # in bold red: the one line of the preview that destroys something.
            text.append(f"Erase {plan.disk.name}: {lost_words(plan.disk)}", style="bold red")
            text.append("\n")
        lines = [f"New partition table on {plan.disk.path if plan.disk else '?'} (GPT):"]
        for part in plan.partitions:
            size = engine.human_size(part.size)
            lines.append(f"  {part.number}. {part.name:<10} {size:>10}  {part.purpose:<9} {part.fstype}")
        text.append("\n".join(lines))
        return text

    def premounted_help(self, refusal: str) -> str:
        """What to mount, as commands for the Shell button, when the layout made by
        hand is not mounted (whole) yet."""
        from installer.plan.premounted import example_mounts

        target = self.session.options.target
        commands = example_mounts(self.highlighted_disk(), engine.firmware(self.session), target)
        return "\n".join([f"Not ready: {refusal}.", f"Mount your partitions at {target} (Shell), e.g.:"]
                         + [f"  {line}" for line in commands] + ["then Rescan."])

    def ready(self) -> bool:
        """The planner may refuse what validation let through (nothing mounted at the target)."""
        try:
            self.session.plan()
        except ProblemsError as err:
            general = self.query_one("#general", Static)
            general.update("\n".join(p.message for p in err.problems))
            general.display = True
            self.app.bell()
            self.query_one("#f-disk-layout").focus()
            return False
        except Exception as err:
            self.notify(f"The plan could not be made: {err}", severity="error", markup=False)
            return False
        return True

    # -- partitioning by hand -------------------------------------------------------
    @on(Button.Pressed, "#cfdisk, #gdisk, #shell")
    def _by_hand(self, event: Button.Pressed) -> None:
        tool = event.button.id or ""
        if tool == "shell":
            self.hand_over(tool, lambda: self.session.console.disk_shell(self.app.suspend))
            return
        disk = self.highlighted_disk()
        machine = self.session.machine
        if disk is None or machine is None:  # a highlighted disk is one of the machine's
            self.say("Highlight a disk first.")
            return
        verdict = editor_verdict(disk, machine)
        if not verdict.ok:
            self.say(f"{tool} is not opened on {disk.name}: {verdict.reason}.")
            return
        self.hand_over(tool, lambda: self.session.console.run_partitioner(tool, disk.path, self.app.suspend))

    @on(Button.Pressed, "#rescan")
    def _rescan(self) -> None:
        self.say("Probing the disks again...")
        self.app.probe_state = "probing"
        self.reprobe()

    def hand_over(self, tool: str, run) -> None:
        """Run a Session method that hands the terminal over; probe again after."""
        try:
            code = run()
        except DryRun as said:
            self.say(str(said))
            return
        except SuspendNotSupported:
            self.say(f"This terminal cannot hand the screen to {tool}: nothing was opened.")
            return
        except OSError as err:
            self.say(f"Could not run {tool}: {err}")
            return
        self.say(f"{tool} exited{f' with status {code}' if code else ''}; probing the disks again...")
        self.app.probe_state = "probing"
        self.reprobe()

    def say(self, text: str) -> None:
        self.query_one("#tool-status", Static).update(text)

    @work(thread=True, exclusive=True, group="probe")
    def reprobe(self) -> str:
        """Probe again; what went wrong, or "". The app learns the probe is over
        at once; this step redraws from the worker's StateChanged message, which
        is dropped if the step is gone by then (nothing left to redraw)."""
        try:
            self.session.probe()
            failure = ""
        except Exception as err:  # the disks as they were stay on the screen
            failure = f"Could not probe again: {err}"
        self.app.call_from_thread(setattr, self.app, "probe_state", "ready")
        return failure

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "probe" and event.state is WorkerState.SUCCESS:
            self._reprobed(event.worker.result or "")

    def _reprobed(self, failure: str = "") -> None:
        self.fill_disks()
        self.sync()
        self.say(failure or "Probed the disks again.")
