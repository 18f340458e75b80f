# A stand-in for nixpkgs' nixos/default.nix: `<nixpkgs/nixos>` evaluated with
# -I nixos-config=FILE, as nixos-install and the pre-flight check do.
# What it models and what it does not: see lib/eval.nix.
{ configuration ? <nixos-config>, system ? builtins.currentSystem }:

let
  lib = import ../lib.nix;
  pkgs = import ../. { inherit system; };
  eval = import ./lib/eval.nix {
    inherit lib pkgs;
    modules = [ configuration ./modules/system.nix ];
    declarations = import ./modules/options.nix { inherit lib; };
    modulesPath = ./modules;
  };
in
{
  inherit (eval) config;
  system = eval.config.system.build.toplevel;
}
