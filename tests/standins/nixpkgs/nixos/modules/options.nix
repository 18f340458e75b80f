# The NixOS options the installer's generated files set (templates/*.nix.j2)
# or the stand-in's own modules read, with the types nixpkgs (release 25.11)
# declares for them, simplified where a check adds nothing to these tests
# (networking.hostName is a string here; nixpkgs also checks its characters).
# An option missing here is refused as unknown: add it with its real type.
# tests/test_evalcheck.py holds this list to the declarations recorded from
# nixpkgs in tests/data/nixpkgs-25.11/options.json: no option more, none less
# (but those only the exported flake sets), and no type of another kind.
{ lib }:

let
  inherit (lib) mkOption types;
  enable = mkOption { type = types.bool; default = false; };
  strs = mkOption { type = types.listOf types.str; default = [ ]; };
  packages = mkOption { type = types.listOf types.package; default = [ ]; };
  str = default: mkOption { type = types.str; inherit default; };
in
{
  boot = {
    loader = {
      systemd-boot = {
        enable = enable;
        xbootldrMountPoint = mkOption { type = types.nullOr types.str; default = null; };
        configurationLimit = mkOption { type = types.nullOr types.int; default = null; };
      };
      efi = { canTouchEfiVariables = enable; efiSysMountPoint = str "/boot"; };
      grub = {
        enable = enable; efiSupport = enable; device = str ""; useOSProber = enable;
        configurationLimit = mkOption { type = types.int; default = 100; };
      };
    };
    initrd = {
      availableKernelModules = strs;
      kernelModules = strs;
      luks.devices."<name>" = { device = str ""; crypttabExtraOpts = strs; };
      systemd.enable = enable;
    };
    resumeDevice = str "";
    kernelModules = strs;
    extraModulePackages = packages;
  };
  fileSystems."<name>" = {
    device = mkOption { type = types.nullOr types.str; default = null; };
    fsType = str "auto";
    options = mkOption { type = types.listOf types.str; default = [ "defaults" ]; };
  };
  swapDevices = mkOption {
    type = types.listOfSubmodule { device = str ""; randomEncryption.enable = enable; };
    default = [ ];
  };
  networking = {
    hostName = str "nixos";
    networkmanager.enable = enable;
    wireless = {
      enable = enable;
      secretsFile = mkOption { type = types.nullOr types.path; default = null; };
      networks."<name>" = {
        pskRaw = mkOption { type = types.nullOr types.str; default = null; };
        hidden = enable;
      };
    };
    useDHCP = mkOption { type = types.bool; default = true; };
  };
  time.timeZone = mkOption { type = types.nullOr types.str; default = null; };
  i18n.defaultLocale = str "en_US.UTF-8";
  console = { keyMap = mkOption { type = types.either types.str types.path; default = "us"; }; earlySetup = enable; };
  services = {
    xserver = {
      enable = enable;
      xkb = { layout = str "us"; variant = str ""; };
      videoDrivers = mkOption { type = types.listOf types.str; default = [ "modesetting" "fbdev" ]; };
      displayManager.lightdm.enable = enable;
      desktopManager.xfce.enable = enable;
    };
    displayManager = { gdm.enable = enable; sddm.enable = enable; };
    desktopManager = { gnome.enable = enable; plasma6.enable = enable; };
    pulseaudio.enable = enable;
    pipewire = { enable = enable; pulse.enable = enable; };
    openssh.enable = enable;
  };
  security.rtkit.enable = enable;
  users.users."<name>" = {
    isNormalUser = enable;
    description = str "";
    extraGroups = strs;
    openssh.authorizedKeys.keys = strs;
  };
  nix.settings.experimental-features = strs;
  nixpkgs = {
    config.allowUnfree = enable;
    hostPlatform = mkOption { type = types.either types.str types.attrs; };
  };
  environment.systemPackages = packages;
  zramSwap.enable = enable;
  systemd.services."<name>" = { description = str ""; wantedBy = strs; script = str ""; scriptArgs = str ""; };
  virtualisation = { virtualbox.guest.enable = enable; hypervGuest.enable = enable; };
  hardware = {
    enableRedistributableFirmware = enable;
    cpu.intel.updateMicrocode = enable;
    cpu.amd.updateMicrocode = enable;
    graphics.enable = enable;
    facter.reportPath = mkOption { type = types.nullOr types.path; default = null; };
    # busIDType is a strMatching in nvidia.nix: a string here (tests/test_evalcheck.py allows that).
    nvidia = {
      open = mkOption { type = types.nullOr types.bool; default = null; };
      prime = {
        offload = { enable = enable; enableOffloadCmd = enable; };
        intelBusId = str ""; amdgpuBusId = str ""; nvidiaBusId = str "";
      };
    };
  };
  system = {
    stateVersion = str "25.11";
    build.toplevel = mkOption { type = types.package; };
  };
}
