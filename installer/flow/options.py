"""How this run was started: the CLI's options, which every part of the flow reads."""

from __future__ import annotations

from dataclasses import dataclass

from installer.base.logfile import DEFAULT_LOG


@dataclass
class Options:
    dry_run: bool = False
    machine_file: str | None = None
    target: str = "/mnt"
    allow_loop: bool = False
    nixos_install: str = "nixos-install"
    nixos_enter: str = "nixos-enter"
    log_path: str = DEFAULT_LOG
    seed: int | None = None  # reproducible UUIDs, for tests and comparisons
    max_jobs: int | str | None = None  # nixos-install --max-jobs (a number or "auto")
    cores: int | None = None  # nixos-install --cores
    keep_going: bool = False
    show_trace: bool = False
    offline: bool = False  # no substituters: build or copy from the ISO's store only
    install_timeout: float | None = None  # seconds nixos-install may run before it is stopped
    state_dir: str = "/run/nixos-tui-installer"  # installer.run.resume's records (until reboot)
    eval_timeout: float = 300.0  # seconds the pre-flight evaluation may take (installer.nixos.evalcheck)
    # Getting online (installer.flow.online); tests point these at the nmcli stand-in and a tmp root.
    nmcli: str = "nmcli"
    wpa_cli: str = "wpa_cli"  # where NetworkManager does not run (the 25.05 ISO)
    wpa_ctrl_dir: str = "/run/wpa_supplicant"  # wpa_supplicant's control sockets
    connections_root: str = "/"  # the live system's root, holding etc/NetworkManager/system-connections
    # The nix.conf naming the substituters the connectivity check asks; "" is the live
    # system's (installer.run.connectivity.NIX_CONF, read when asked).
    nix_conf: str = ""
    connect_timeout: float = 5.0  # seconds each substituter has to answer

    @property
    def real(self) -> bool:
        """Whether this run may touch the machine: never on a recorded machine."""
        return not self.dry_run and self.machine_file is None
