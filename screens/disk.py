"""Step 3: which disk, how to lay it out, filesystem and swap, with a preview."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.containers import Horizontal
from textual.widgets import Button, OptionList, RadioSet, Static
from textual.widgets.option_list import Option

from installer.problems import ProblemsError
from screens import engine
from screens.base import StepScreen
from screens.widgets import FieldInput, FieldMessage, Radio, field_id

LAYOUTS = {"erase": "Erase the whole disk and install", "premounted": "Use what is mounted at the target"}
SWAPS = {"zram": "zram (compressed RAM)", "partition": "swap partition", "none": "none"}


def disk_line(disk) -> str:
    what = disk.holds or "empty"
    model = (disk.model or "disk")[:22]
    line = f"{disk.name:<9} {engine.human_size(disk.size):>9}  {disk.bus:<6} {model:<22} {what}"
    if disk.refused:
        line += f"\n          not offered: {disk.refused}"
    return line


class DiskScreen(StepScreen):
    TITLE_TEXT = "Disk"
    PREFIXES = ("disk", "boot")
    HELP = (
        "Up/Down chooses the disk. 'Erase' makes a new partition table on it: everything on that disk "
        "is lost (you confirm by typing its name later). 'Use what is mounted' installs into the "
        "filesystems you mounted at the target yourself (e.g. after cfdisk, mkfs and mount in a shell). "
        "cfdisk/gdisk open the partition editor on the highlighted disk; the disks are probed again "
        "when you quit it. Disks holding this ISO or mounted filesystems are never offered."
    )

    def body(self) -> ComposeResult:
        d = self.model.disk
        yield Static("Disk                 size   bus    model                  holds today", classes="label")
        disks = OptionList(id="f-disk-device", compact=True, markup=False)
        disks.field = "disk.device"
        yield disks
        yield FieldMessage("disk.device")
        with RadioSet(id="f-disk-layout") as layouts:
            layouts.field = "disk.layout"
            for key, text in LAYOUTS.items():
                yield Radio(text, d.layout == key, id=f"layout-{key}")
        yield FieldMessage("disk.layout")
        with Horizontal(id="tools"):
            yield Static("Partition it yourself:", classes="label")
            yield Button("cfdisk", id="cfdisk", compact=True)
            yield Button("gdisk", id="gdisk", compact=True)
        with Horizontal(classes="columns"):
            with RadioSet(id="f-disk-filesystem") as filesystems:
                filesystems.field = "disk.filesystem"
                for fs in ("ext4", "btrfs", "xfs"):
                    yield Radio(fs, d.filesystem == fs, id=f"fs-{fs}")
            with RadioSet(id="f-disk-swap") as swaps:
                swaps.field = "disk.swap"
                for key, text in SWAPS.items():
                    yield Radio(text, d.swap == key, id=f"swap-{key}")
        yield Static("Swap partition size (MiB)", classes="label")
        yield FieldInput("disk.swap_size_mib", str(d.swap_size_mib))
        yield FieldMessage("disk.swap_size_mib")
        yield FieldMessage("disk.esp_size_mib")
        yield FieldMessage("boot")
        yield Static("", id="preview", markup=False)

    def on_mount(self) -> None:
        self.fill_disks()
        self.sync()
        self.query_one("#f-disk-device").focus()

    def fill_disks(self) -> None:
        machine = self.session.machine
        options = self.query_one("#f-disk-device", OptionList)
        options.clear_options()
        if machine is None:
            return
        options.add_options(Option(disk_line(d), id=d.path, disabled=bool(d.refused)) for d in machine.disks)
        chosen = machine.disk(self.model.disk.device) if self.model.disk.device else None
        offered = [i for i, d in enumerate(machine.disks) if not d.refused]
        if chosen is not None and not chosen.refused:
            options.highlighted = machine.disks.index(chosen)
        elif offered and self.model.disk.layout == "erase":
            options.highlighted = offered[0]
        options.styles.height = min(6, max(1, sum(2 if d.refused else 1 for d in machine.disks)))

    @on(OptionList.OptionHighlighted, "#f-disk-device")
    def _disk(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.disabled:
            return
        self.model.disk.device = event.option.id or ""
        self.touched.add("disk.device")
        self.sync()

    @on(OptionList.OptionSelected, "#f-disk-device")
    def _disk_chosen(self) -> None:
        self.focus_next()

    @on(RadioSet.Changed)
    def _radio(self, event: RadioSet.Changed) -> None:
        key = (event.pressed.id or "").split("-", 1)[1]
        field = event.radio_set.field
        if field == "disk.layout":
            self.model.disk.layout = key
        elif field == "disk.filesystem":
            self.model.disk.filesystem = key
        elif field == "disk.swap":
            self.model.disk.swap = key
        self.touched.add(field)
        self.sync()

    def store(self, field: str, value: str) -> None:
        if field == "disk.swap_size_mib":
            self.model.disk.swap_size_mib = int(value) if value.strip().isdigit() else 0
        else:
            super().store(field, value)

    def after_change(self, field: str) -> None:
        self.sync()

    def sync(self) -> None:
        erase = self.model.disk.layout == "erase"
        self.query_one("#" + field_id("disk.swap_size_mib")).disabled = self.model.disk.swap != "partition" or not erase
        self.query_one("#f-disk-filesystem").disabled = not erase
        self.refresh_problems()
        self.query_one("#preview", Static).update(self.preview())

    def preview(self) -> str:
        try:
            plan = self.session.plan()
        except ProblemsError as err:
            return "Preview: fix the choices above first (" + err.problems[0].message + ")"
        except Exception as err:  # the planner is the engine's; never a traceback here
            return f"Preview not available: {err}"
        if plan.layout == "premounted":
            mounts = ", ".join(f"{f.mountpoint} ({f.fstype})" for f in plan.filesystems) or "nothing mounted yet"
            return f"Install into what is mounted at {self.session.options.target}: {mounts}"
        lines = [f"New partition table on {plan.disk.path if plan.disk else '?'} (GPT):"]
        for part in plan.partitions:
            lines.append(f"  {part.number}. {part.name:<10} {engine.mib(part.size):>10}  {part.purpose:<9} {part.fstype}")
        return "\n".join(lines)

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
            self.notify(f"The plan could not be made: {err}", severity="error")
            return False
        return True

    # -- partition editors -------------------------------------------------------
    @on(Button.Pressed, "#cfdisk, #gdisk")
    def _partitioner(self, event: Button.Pressed) -> None:
        options = self.query_one("#f-disk-device", OptionList)
        if options.highlighted is None:
            self.notify("Highlight a disk first.", severity="warning")
            return
        disk = options.get_option_at_index(options.highlighted).id
        try:
            with self.app.suspend():
                self.session.run_partitioner(event.button.id, disk)
        except SuspendNotSupported:
            self.notify("This terminal cannot hand the screen to another program.", severity="error")
            return
        self.app.probe_state = "probing"
        self.reprobe()

    @work(thread=True, exclusive=True, group="probe")
    def reprobe(self) -> None:
        try:
            self.session.probe()
        except Exception as err:
            self.app.call_from_thread(self.notify, f"Could not probe again: {err}", severity="error")
            return
        self.app.call_from_thread(self._reprobed)

    def _reprobed(self) -> None:
        self.app.probe_state = "ready"
        self.fill_disks()
        self.sync()
