# A tiny NixOS module system, standing in for nixpkgs' lib/modules.nix in the
# pre-flight evaluation tests (no nixpkgs checkout can be had here; the real
# one is exercised on the ISO).
#
# What it models, in nixpkgs' words where nixpkgs has words for it:
#  - modules are files or functions of { config, lib, pkgs, modulesPath, ... }
#    with `imports`; `config` is the fixpoint of all of them;
#  - a definition no option declares is refused before any value is read:
#    "The option `a.b' does not exist. Definition values:\n- In `FILE': VALUE"
#    (lib/modules.nix, checkUnmatched; the first unmatched prefix, as there);
#  - a definition of the wrong type: "A definition for option `a.b' is not
#    of type `boolean'. Definition values:\n- In `FILE': VALUE";
#  - mkIf, mkMerge, mkOverride/mkDefault/mkForce priorities, lists
#    concatenated, equal definitions merged, others "has conflicting
#    definition values", attrsOf submodule (`<name>` in options.nix) and
#    list of submodule (swapDevices);
#  - `config.system.build.toplevel.drvPath` is a real derivation's drvPath
#    that depends on every option's value, so evaluating it checks them all.
# What it does not: the options it declares are only those the generated
# files set (nixos/modules/options.nix, held to the declarations recorded
# from nixpkgs 25.11 in tests/data), so an option real NixOS has but that
# file lacks is refused here and not there; types are of the same kind but
# may be looser (a hostName's characters, non-empty strings are not checked); no option declarations in user
# modules, no freeform types (nix.settings and nixpkgs.config are declared
# option by option), no assertions or warnings (real NixOS refuses e.g. GRUB
# without a device; this does not), no `disabledModules`, no "Did you mean"
# hints, and definition values are printed on one line.
{ lib, pkgs, modules, declarations, modulesPath }:

let
  inherit (builtins)
    attrNames concatLists concatMap concatStringsSep elem elemAt filter foldl' genList head isAttrs
    isFunction isPath isString length listToAttrs toJSON;

  showOption = loc: concatStringsSep "." (map (part:
    if builtins.match "[a-zA-Z_][a-zA-Z0-9_'-]*" part != null || builtins.match "<.+>" part != null
    then part else toJSON part) loc);

  pretty = v:
    if isString v then toJSON v
    else if builtins.isBool v then (if v then "true" else "false")
    else if builtins.isInt v then toString v
    else if v == null then "null"
    else if lib.isDerivation v then "<derivation ${v.name}>"
    else if builtins.isList v then "[ " + concatStringsSep " " (map pretty v) + " ]"
    else if isFunction v then "<function>"
    else if isAttrs v then "{ " + concatStringsSep " " (map (n: "${n} = ${pretty v.${n}};") (attrNames v)) + " }"
    else "<value>";

  # lib/options.nix showDefs: a value whose printing fails is left out.
  showDefs = defs: concatStringsSep "" (map (d:
    let shown = builtins.tryEval (pretty d.value); in
    "\n- In `${d.file}'${if shown.success then ": ${shown.value}" else ""}") defs);

  args = { inherit config lib pkgs modulesPath; };

  load = file: m:
    let
      fromFile = isPath m || isString m;
      f = if fromFile then import m else m;
      here = if fromFile then toString m else file;
      value = if isFunction f then f args else f;
    in
    if value ? options then throw "stand-in NixOS: option declarations in ${here} are not modelled"
    else {
      file = value._file or here;
      imports = value.imports or [ ];
      config = if value ? config then value.config
        else removeAttrs value [ "_file" "key" "imports" "disabledModules" "require" ];
    };

  collect = file: ms: concatMap (m: let loaded = load file m; in [ loaded ] ++ collect loaded.file loaded.imports) ms;

  property = v: if isAttrs v then v._type or "" else "";

  # One module's definitions under `loc`, against the declarations `node`:
  # a leaf per option defined; a definition of no declared option is marked
  # unknown. mkIf/mkOverride above an option are pushed down to it (as
  # lib/modules.nix pushDownProperties does), so no condition is read here.
  flatten = file: node: loc: value:
    if lib.isOption node then [ { inherit file loc value; option = node; } ]
    else if property value == "merge" then concatMap (flatten file node loc) value.contents
    else if property value == "if" then
      map (d: d // { value = lib.mkIf value.condition d.value; }) (flatten file node loc value.content)
    else if property value == "override" then
      map (d: d // { value = lib.mkOverride value.priority d.value; }) (flatten file node loc value.content)
    else if isAttrs value then concatMap (name:
      let child = node.${name} or (node."<name>" or null); in
      if child == null then [ { unknown = true; inherit file; loc = loc ++ [ name ]; value = value.${name}; } ]
      else flatten file child (loc ++ [ name ]) value.${name}) (attrNames value)
    else throw "A definition for option `${showOption loc}' is not of type `attribute set'. Definition values:${showDefs [ { inherit file value; } ]}";

  defs = concatMap (m: flatten m.file declarations [ ] m.config) (collect "<unknown-file>" modules);
  unknown = filter (d: d.unknown or false) defs;
  known = filter (d: !(d.unknown or false)) defs;

  doesNotExist = d: throw "The option `${showOption d.loc}' does not exist. Definition values:${showDefs [ d ]}";
  notOfType = loc: type: d:
    throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs [ d ]}";

  checkUnmatched = if unknown == [ ] then null else doesNotExist (head unknown);

  take = n: xs: genList (elemAt xs) n;
  unique = foldl' (seen: x: if elem x seen then seen else seen ++ [ x ]) [ ];
  defsAt = loc: filter (d: d.loc == loc) known;
  namesUnder = loc:
    let n = length loc; in
    unique (map (d: elemAt d.loc n) (filter (d: length d.loc > n && take n d.loc == loc) known));

  # mkMerge and mkIf resolved, each definition with its priority.
  discharge = d:
    let v = d.value; in
    if property v == "merge" then concatMap (c: discharge (d // { value = c; })) v.contents
    else if property v == "if" then (if v.condition then discharge (d // { value = v.content; }) else [ ])
    else if property v == "override" then discharge ({ priority = v.priority; } // d // { value = v.content; })
    else [ ({ priority = 100; } // d) ];

  # A list of submodules: every entry's definitions are checked as options.
  checkEntries = loc: type: d:
    if !(type ? submodule) then d
    else
      let
        leaves = concatLists (genList (i:
          flatten d.file type.submodule (loc ++ [ "[definition 1-entry ${toString (i + 1)}]" ]) (elemAt d.value i))
          (length d.value));
        bad = filter (x: x.unknown or false) leaves;
        wrong = filter (x: !(x.unknown or false) && !(x.option.type.check x.value)) leaves;
      in
      if bad != [ ] then doesNotExist (head bad)
      else if wrong != [ ] then notOfType (head wrong).loc (head wrong).option.type (head wrong)
      else d;

  mergeOption = option: loc: given:
    let
      all = concatMap discharge given;
      top = foldl' (p: d: if d.priority < p then d.priority else p) 1500 all;
      chosen = filter (d: d.priority == top) all;
      type = option.type;
      values = map (d: (if type.check d.value then checkEntries loc type d else notOfType loc type d).value) chosen;
    in
    if chosen == [ ] then
      (if option.hasDefault then option.default
       else throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.")
    else if type.list or false then concatLists values
    else if builtins.all (v: v == head values) values then head values
    else throw "The option `${showOption loc}' has conflicting definition values:${showDefs chosen}";

  build = node: loc:
    if lib.isOption node then mergeOption node loc (defsAt loc)
    else
      builtins.mapAttrs (name: child: build child (loc ++ [ name ])) (removeAttrs node [ "<name>" ])
      // listToAttrs (map (name: { inherit name; value = build node."<name>" (loc ++ [ name ]); })
        (if node ? "<name>" then namesUnder loc else [ ]));

  config = build declarations [ ];
in
{
  # As lib/modules.nix: nothing of `config` is read before every definition
  # is known to have an option.
  config = builtins.seq checkUnmatched config;
}
