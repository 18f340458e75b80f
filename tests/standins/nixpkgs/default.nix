# A stand-in for nixpkgs' top level, for the pre-flight evaluation tests.
#
# What it models: `pkgs` is a plain attribute set of real derivations, so a
# package name nixpkgs does not have fails with Nix's own
# "attribute 'x' missing" error at the place that names it, as in nixpkgs.
# What it does not: the package set itself (a handful of names), overlays,
# aliases and their "has been removed" throws, unfree licences.
{ system ? builtins.currentSystem, ... }:

let
  package = name: derivation {
    inherit name system;
    builder = "/bin/sh";
    args = [ "-c" "echo ${name} > $out" ];
  };
  names = [ "git" "vim" "htop" "firefox" "curl" "tmux" "wget" ];
in
builtins.listToAttrs (map (name: { inherit name; value = package name; }) names) // {
  python3Packages = { requests = package "python3.12-requests"; numpy = package "python3.12-numpy"; };
  lib = import ./lib.nix;
}
