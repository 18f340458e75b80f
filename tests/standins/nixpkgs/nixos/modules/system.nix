# The system the stand-in builds: one derivation whose attributes hold every
# option's value, so evaluating its drvPath reads (and type-checks) them all.
{ config, pkgs, ... }:

let
  platform = config.nixpkgs.hostPlatform;
in
{
  system.build.toplevel = derivation {
    name = "nixos-system-${config.networking.hostName}-${config.system.stateVersion}";
    system = if builtins.isAttrs platform then platform.system else platform;
    builder = "/bin/sh";
    args = [ "-c" "echo \"$settings\" > $out" ];
    packages = config.environment.systemPackages ++ config.boot.extraModulePackages;
    settings = builtins.toJSON (removeAttrs config [ "system" ]);
  };
}
