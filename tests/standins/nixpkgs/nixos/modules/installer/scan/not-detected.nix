# Stand-in for nixos/modules/installer/scan/not-detected.nix.
{ lib, ... }:
{
  hardware.enableRedistributableFirmware = lib.mkDefault true;
}
