"""Step 5: hostname, timezone, root, and the people who will use the system."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Static, TextArea

from installer.answers.model import User
from installer.answers.sshkeys import propose_ssh_server
from screens import engine
from screens.base import StepScreen
from screens.widgets import Check, FieldInput, FieldMessage, FilterSelect, SecretInput, field_id


class KeysArea(TextArea):
    """SSH public keys, one per line, validated by the engine as they are pasted."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__(text, id=field_id(field),
                         soft_wrap=False, show_line_numbers=False, compact=True)
        self.field = field


def user_block(index: int, user: User) -> list:
    at = f"users[{index}]"
    admin = Check("Administrator (may use sudo)", user.admin, compact=True, id=f"f-users-{index}-admin",
                  field=f"{at}.admin")
    return [
        Static(f"User {index + 1}", classes="section"),
        Horizontal(
            Vertical(Static("Full name", classes="label"), FieldInput(f"{at}.description", user.description),
                     FieldMessage(f"{at}.description")),
            Vertical(Static("Username", classes="label"), FieldInput(f"{at}.name", user.name),
                     FieldMessage(f"{at}.name")),
            classes="columns",
        ),
        Horizontal(
            Vertical(Static("Password", classes="label"), SecretInput(f"{at}.password", user.password or ""),
                     FieldMessage(f"{at}.password")),
            Vertical(Static("Password again", classes="label"),
                     SecretInput(f"{at}.password_confirm", user.password_confirm or ""),
                     FieldMessage(f"{at}.password_confirm")),
            classes="columns",
        ),
        admin,
        FieldMessage(f"{at}.admin"),
        Horizontal(Static("SSH public keys, one per line (optional)", classes="label"),
                   Button("Import (F6)", id=f"import-keys-{index}", classes="import-keys", compact=True),
                   classes="keys-head"),
        KeysArea(f"{at}.ssh_keys", "\n".join(user.ssh_keys)),
        FieldMessage(f"{at}.ssh_keys"),
    ]


class UsersScreen(StepScreen):
    TITLE_TEXT = "System & users"
    PREFIXES = ("system.hostname", "system.timezone", "users", "root")
    HELP = (
        "The hostname names this computer on the network. The username is suggested from the full "
        "name until you edit it. An administrator may run commands as root with sudo; with root "
        "login disabled at least one user must be an administrator. Paste SSH public keys (the "
        "line from your id_ed25519.pub) to log in over SSH without a password, or press F6 to import "
        "them from a GitHub or GitLab account, an https:// address or a file on a USB stick; the SSH "
        "server is turned on with the first key. Ctrl+N adds a user; F8 removes the user whose field "
        "has the focus."
    )
    BINDINGS = [("ctrl+n", "add_user", "Add user"), ("f8", "remove_user", "Remove user"),
                # The Import button says F6; the footer has no room left at 80 columns.
                Binding("f6", "import_keys", "Import keys", show=False)]

    def __init__(self) -> None:
        super().__init__()
        # The username each user's field got from a suggestion. A field that
        # holds anything else was typed by the person and is never overwritten.
        # Read from the field, not from the order of Changed messages: keys
        # typed fast into the username arrive before the full name's Changed.
        self.suggested: dict[int, str] = {}

    def body(self) -> ComposeResult:
        if not self.model.users:
            self.model.users.append(User())
        for i, user in enumerate(self.model.users):
            if user.name == engine.suggest_username(user.description):
                self.suggested[i] = user.name
        s = self.model.system
        with Horizontal(classes="columns"):
            with Vertical():
                yield Static("Hostname", classes="label")
                yield FieldInput("system.hostname", s.hostname)
                yield FieldMessage("system.hostname")
            with Vertical():
                yield Static("Timezone (type to search)", classes="label")
                yield FilterSelect("system.timezone", engine.catalog.timezone_places(), s.timezone)
                yield FieldMessage("system.timezone")
        with Vertical(id="users"):
            for i, user in enumerate(self.model.users):
                yield from user_block(i, user)
        yield FieldMessage("users")
        # Shown once a key is given: the keys are for the SSH server, so it is
        # offered right here (and turned on with the first key).
        yield Check("SSH server on, so these keys can log in", self.model.software.ssh_server,
                    id="f-software-ssh_server", compact=True, field="software.ssh_server")
        yield Button("Add another user (Ctrl+N)", id="add-user", compact=True)
        yield Static("Root account", classes="section")
        yield Check("Disable root login (administrators use sudo)", self.model.root.disabled,
                    id="f-root-disabled", compact=True, field="root.disabled")
        with Horizontal(classes="columns"):
            with Vertical():
                yield Static("Root password", classes="label")
                yield SecretInput("root.password", self.model.root.password or "")
                yield FieldMessage("root.password")
            with Vertical():
                yield Static("Root password again", classes="label")
                yield SecretInput("root.password_confirm", self.model.root.password_confirm or "")
                yield FieldMessage("root.password_confirm")

    def on_mount(self) -> None:
        self.sync_root()
        self.sync_ssh()
        self.query_one("#f-system-hostname").focus()

    def sync_ssh(self) -> None:
        box = self.query_one("#f-software-ssh_server", Check)
        box.display = any(user.ssh_keys for user in self.model.users)
        if box.value != self.model.software.ssh_server:
            with box.prevent(Checkbox.Changed):
                box.value = self.model.software.ssh_server

    def sync_root(self) -> None:
        for widget in self.query(SecretInput):
            if widget.field.startswith("root."):
                widget.disabled = self.model.root.disabled

    def after_change(self, field: str) -> None:
        if field.endswith(".description"):
            index = int(field[6:].split("]")[0])
            name_input = self.query_one(f"#f-users-{index}-name", FieldInput)
            if name_input.value == self.suggested.get(index, ""):
                suggestion = engine.suggest_username(self.model.users[index].description)
                with name_input.prevent(FieldInput.Changed):
                    name_input.value = suggestion
                self.model.users[index].name = suggestion
                self.suggested[index] = suggestion
                self.touched.add(f"users[{index}].name")

    @on(Checkbox.Changed)
    def _checkbox(self, event: Checkbox.Changed) -> None:
        field = getattr(event.checkbox, "field", "")
        if field == "root.disabled":
            self.model.root.disabled = event.value
            self.sync_root()
        elif field == "software.ssh_server":
            self.model.software.ssh_server = event.value
        elif field.endswith(".admin"):
            index = int(field[6:].split("]")[0])
            self.model.users[index].admin = event.value
        self.touched.add(field)
        self.refresh_problems()

    @on(TextArea.Changed)
    def _keys(self, event: TextArea.Changed) -> None:
        area = event.text_area
        if not isinstance(area, KeysArea):
            return
        index = int(area.field[6:].split("]")[0])
        had_keys = any(user.ssh_keys for user in self.model.users)
        self.model.users[index].ssh_keys = [line.strip() for line in area.text.splitlines() if line.strip()]
        propose_ssh_server(self.model, had_keys)
        self.sync_ssh()
        self.touched.add(area.field)
        self.refresh_problems()

    def focused_user(self) -> int:
        """The user whose field (or Import button) has the focus; the first one otherwise."""
        focused = self.focused
        field = getattr(focused, "field", "") or ""
        if field.startswith("users["):
            return int(field[6:].split("]")[0])
        if focused is not None and (focused.id or "").startswith("import-keys-"):
            return int((focused.id or "").rsplit("-", 1)[1])
        return 0

    @on(Button.Pressed, ".import-keys")
    def _import_pressed(self, event: Button.Pressed) -> None:
        self.import_keys(int((event.button.id or "0").rsplit("-", 1)[1]))

    def action_import_keys(self) -> None:
        self.import_keys(self.focused_user())

    def import_keys(self, index: int) -> None:
        from screens.sshkeys import ImportKeysScreen

        def got(keys: tuple[str, ...] | None) -> None:
            if not keys:
                return
            area = self.query_one(f"#f-users-{index}-ssh_keys", KeysArea)
            lines = [line for line in area.text.splitlines() if line.strip()] + list(keys)
            area.load_text("\n".join(lines))  # its Changed message stores them, as typing does
            area.focus()

        self.app.push_screen(ImportKeysScreen(self.model.users[index].ssh_keys), got)

    @on(Button.Pressed, "#add-user")
    async def _add(self) -> None:
        await self.action_add_user()

    async def action_add_user(self) -> None:
        index = len(self.model.users)
        self.model.users.append(User(admin=False))
        users = self.query_one("#users", Vertical)
        block = user_block(index, self.model.users[index])
        await users.mount_all(block)
        self.set_focus(self.query_one(f"#f-users-{index}-description"), scroll_visible=False)
        # Once the new block is laid out (not before: it has no place yet),
        # its heading goes to the top, the first field right under it.
        self.call_after_refresh(self.query_one("#body").scroll_to_widget, block[0], top=True, animate=False)

    async def action_remove_user(self) -> None:
        field = getattr(self.focused, "field", "") or ""
        if not field.startswith("users[") or len(self.model.users) < 2:
            self.app.bell()
            return
        index = int(field[6:].split("]")[0])
        del self.model.users[index]
        self.suggested = {i - (i > index): name for i, name in self.suggested.items() if i != index}
        self.touched = {t for t in self.touched if not t.startswith("users[")}
        users = self.query_one("#users", Vertical)
        await users.remove_children()
        await users.mount_all([w for i, user in enumerate(self.model.users) for w in user_block(i, user)])
        self.query_one(f"#f-users-{min(index, len(self.model.users) - 1)}-description").focus()
        self.refresh_problems()
