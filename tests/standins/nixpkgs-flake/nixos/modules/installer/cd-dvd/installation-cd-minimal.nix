# Stand-in for nixpkgs' installation-cd-minimal.nix: what the flake relies on
# from it. The real one (via profiles/installation-device.nix) logs user
# "nixos" in on the consoles, gives it passwordless sudo and sets a help line;
# iso-image.nix builds system.build.isoImage from the system's toplevel.
{ config, ... }:
{
  services.getty.autologinUser = "nixos";
  services.getty.helpLine = ''
    The "nixos" and "root" accounts have empty passwords.
  '';
  system.build.isoImage = derivation {
    name = "nixos-minimal-25.11-${config.nixpkgs.hostPlatform}.iso";
    system = config.nixpkgs.hostPlatform;
    builder = "/bin/sh";
    toplevel = config.system.build.toplevel;
  };
}
