# The system the stand-in builds: one derivation whose attributes hold every
# option's value, so evaluating its drvPath reads (and type-checks) them all.
{ config, pkgs, ... }:

let
  platform = config.nixpkgs.hostPlatform;
  nvidia = config.hardware.nvidia;
  # The facter module reads its report as NixOS's does (hardware/facter/default.nix):
  # a missing file or one that is not JSON fails the evaluation.
  facterPath = config.hardware.facter.reportPath;
  facterReport = if facterPath == null then { } else builtins.fromJSON (builtins.readFile facterPath);
  prime = nvidia.prime;
  # nvidia.nix's assertions (25.x) on what the generated files set, in its words,
  # and nixpkgs' refusal of the unfree driver without nixpkgs.config.allowUnfree.
  failed =
    builtins.filter (a: !a.assertion) (if !builtins.elem "nvidia" config.services.xserver.videoDrivers then [ ] else [
      { assertion = nvidia.open != null;
        message = "You must configure `hardware.nvidia.open` on NVIDIA driver versions >= 560."; }
      { assertion = prime.offload.enable -> prime.intelBusId == "" || prime.amdgpuBusId == "";
        message = "You cannot configure both an Intel iGPU and an AMD APU. Pick the one corresponding to your processor."; }
      { assertion = prime.offload.enableOffloadCmd -> prime.offload.enable;
        message = "Offload command requires offloading or reverse prime sync to be enabled."; }
      { assertion = prime.offload.enable -> prime.nvidiaBusId != "" && (prime.intelBusId != "" || prime.amdgpuBusId != "");
        message = "When NVIDIA PRIME is enabled, the GPU bus IDs must be configured."; }
      { assertion = config.nixpkgs.config.allowUnfree;
        message = "Package ‘nvidia-x11’ has an unfree license (‘unfreeRedistributable’), refusing to evaluate."; }
    ]);
in
{
  system.build.toplevel =
    assert failed == [ ] || throw "Failed assertions:\n${builtins.concatStringsSep "\n" (map (a: "- ${a.message}") failed)}";
    derivation {
      name = "nixos-system-${config.networking.hostName}-${config.system.stateVersion}";
      system = if builtins.isAttrs platform then platform.system else platform;
      builder = "/bin/sh";
      args = [ "-c" "echo \"$settings\" > $out" ];
      packages = config.environment.systemPackages ++ config.boot.extraModulePackages;
      settings = builtins.toJSON (removeAttrs config [ "system" "hardware" ]);
      hardware = builtins.toJSON (removeAttrs config.hardware [ "facter" ]);
      facterSystem = facterReport.system or "";
    };
}
