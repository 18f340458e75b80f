# programs.nixos-tui-installer: the package, and on an installation ISO the
# wizard on tty1.
#
# Autostart rides on the ISO's own console login (services.getty.autologinUser,
# "nixos" on the installation CD): the login shell on tty1 starts the wizard
# once, not with exec, so quitting it hands the console back to that shell.
# Typing `sudo nixos-tui-installer` starts it again; `exit` logs out, getty
# logs in again and the wizard comes back. The other consoles stay plain
# shells for a second look at the machine.
{ config, lib, pkgs, ... }:
let
  cfg = config.programs.nixos-tui-installer;
  start = pkgs.writeShellScript "nixos-tui-installer-autostart" ''
    if [ "$(id -u)" = 0 ]; then
      ${lib.getExe cfg.package}
    else
      /run/wrappers/bin/sudo ${lib.getExe cfg.package}
    fi
    echo
    echo "The installer has quit. Start it again with: sudo nixos-tui-installer"
  '';
in
{
  options.programs.nixos-tui-installer = {
    enable = lib.mkEnableOption "nixos-tui-installer, the keyboard-driven NixOS installer";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { };
      # The flake's nixosModules.default sets this flake's own package (mkDefault);
      # this file imported alone builds it with the system's nixpkgs.
      defaultText = lib.literalExpression "the flake's packages.\${system}.default";
      description = "The nixos-tui-installer package to use.";
    };

    autostart = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Start the installer when the console login on tty1 happens (an
        installation ISO logs in automatically). Quitting it returns to that
        shell; `sudo nixos-tui-installer` starts it again.
      '';
    };
  };

  config = lib.mkIf cfg.enable (lib.mkMerge [
    { environment.systemPackages = [ cfg.package ]; }
    (lib.mkIf cfg.autostart {
      assertions = [
        {
          assertion = config.services.getty.autologinUser != null;
          message = "programs.nixos-tui-installer.autostart starts the installer at the automatic console login; set services.getty.autologinUser (the installation CD sets it to \"nixos\").";
        }
      ];
      # Only the automatic login on tty1 starts it: not a nested login shell
      # (`sudo -i` there), not an ssh login, not the other consoles.
      environment.loginShellInit = ''
        if [ "$(tty)" = /dev/tty1 ] && [ "$(id -un)" = ${lib.escapeShellArg (toString config.services.getty.autologinUser)} ] \
          && [ -z "''${NIXOS_TUI_INSTALLER_STARTED-}" ]; then
          export NIXOS_TUI_INSTALLER_STARTED=1
          ${start}
        fi
      '';
      services.getty.helpLine = lib.mkAfter ''

        The installer starts on tty1; on any console: sudo nixos-tui-installer
      '';
    })
  ]);
}
