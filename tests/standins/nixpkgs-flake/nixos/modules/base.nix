# The options the flake's modules touch, declared with their nixpkgs 25.11
# names and types (file in nixpkgs named at each), and a toplevel that, like
# nixos/modules/system/activation/top-level.nix, refuses failed assertions.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
in
{
  options = {
    # nixos/modules/misc/nixpkgs.nix
    nixpkgs.hostPlatform = mkOption { type = types.either types.str types.attrs; };
    # nixos/modules/misc/assertions.nix
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    # nixos/modules/config/system-path.nix
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    # nixos/modules/config/shells-environment.nix
    environment.loginShellInit = mkOption {
      type = types.lines;
      default = "";
    };
    environment.interactiveShellInit = mkOption {
      type = types.lines;
      default = "";
    };
    # nixos/modules/services/ttys/getty.nix
    services.getty.autologinUser = mkOption {
      type = types.nullOr types.str;
      default = null;
    };
    services.getty.helpLine = mkOption {
      type = types.lines;
      default = "";
    };
    # nixos/modules/system/build.nix
    system.build = mkOption {
      type = types.lazyAttrsOfUnique;
      default = { };
    };
  };

  config.system.build.toplevel =
    if failed != [ ] then
      throw "\nFailed assertions:\n${lib.optionalString true (builtins.concatStringsSep "\n" (map (m: "- ${m}") failed))}"
    else
      derivation {
        name = "nixos-system-nixos-25.11";
        system = config.nixpkgs.hostPlatform;
        builder = "/bin/sh";
        packages = config.environment.systemPackages;
        loginShellInit = config.environment.loginShellInit;
        helpLine = config.services.getty.helpLine;
      };
}
