{
  description = "A keyboard-driven NixOS installer for the text console of the minimal ISO";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forEachSystem = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
    in
    {
      packages = forEachSystem (
        system: pkgs:
        {
          default = pkgs.callPackage ./nix/package.nix { };
        }
        // lib.optionalAttrs (system == "x86_64-linux") {
          iso = self.nixosConfigurations.iso.config.system.build.isoImage;
        }
      );

      apps = forEachSystem (
        system: pkgs: {
          default = {
            type = "app";
            program = lib.getExe self.packages.${system}.default;
            meta.description = "Start the installer wizard (as root, on the NixOS ISO)";
          };
        }
      );

      # The module, with this flake's own package as its default: built with the
      # nixpkgs pinned here (textual 8.2 needs rich 14.1 or later, which an older
      # system's nixpkgs lacks), not with the system's. Another system than
      # the two built here falls back to the module's own default.
      nixosModules.default =
        { config, lib, ... }:
        let
          platform = config.nixpkgs.hostPlatform;
          system = if builtins.isString platform then platform else platform.system;
        in
        {
          imports = [ ./nix/module.nix ];
          config.programs.nixos-tui-installer.package = lib.mkIf (self.packages ? ${system}) (
            lib.mkDefault self.packages.${system}.default
          );
        };

      # The minimal installation CD, booting straight into the wizard on tty1.
      nixosConfigurations.iso = lib.nixosSystem {
        modules = [
          "${nixpkgs}/nixos/modules/installer/cd-dvd/installation-cd-minimal.nix"
          self.nixosModules.default
          {
            nixpkgs.hostPlatform = "x86_64-linux";
            programs.nixos-tui-installer = {
              enable = true;
              autostart = true;
              package = self.packages.x86_64-linux.default;
            };
          }
        ];
      };

      devShells = forEachSystem (
        system: pkgs: {
          default = import ./nix/devshell.nix {
            inherit pkgs;
            package = self.packages.${system}.default;
          };
        }
      );

      checks = forEachSystem (
        system: pkgs: {
          tests = import ./nix/checks.nix {
            inherit pkgs;
            package = self.packages.${system}.default;
          };
        }
      );
    };
}
