# The stand-in's outputs; `attrsText` is the package-attrs.txt to build
# legacyPackages from (the flake reads its copy, tests may pass a variant).
{ attrsText }:
let
  lib = import ./lib.nix;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];
  legacyPackages = lib.genAttrs systems (system: import ./pkgs.nix { inherit lib system attrsText; });
in
{
  inherit legacyPackages;
  lib = lib // {
    nixosSystem = import ./nixos/eval.nix {
      inherit lib;
      pkgsFor = system: legacyPackages.${system};
    };
  };
}
