"""The session and what it hands out: draft, preflight, install, console."""


class DryRun(RuntimeError):
    """Raised where only a real run could go on (nixos-install in dry-run)."""
