# lib.nixosSystem: a module system of its own, small but strict in the ways
# the tests rely on, like nixpkgs' lib/modules.nix: modules are files,
# functions or sets with imports/options/config; mkIf/mkMerge/mkOverride/
# mkOrder are pushed down to the options; a definition of an undeclared option
# fails with "The option `a.b' does not exist."; a value of the wrong type
# with "A definition for option `a.b' is not of type `...'."
{ lib, pkgsFor }:
{
  modules,
  specialArgs ? { },
  ...
}:
let
  inherit (builtins)
    attrNames
    all
    concatMap
    filter
    foldl'
    isAttrs
    isFunction
    isPath
    isString
    sort
    head
    ;
  show = lib.showOption;
  isOption = v: isAttrs v && (v._type or null) == "option";

  args = {
    inherit lib config options;
    pkgs = pkgsFor config.nixpkgs.hostPlatform;
    modulesPath = ./modules;
  } // specialArgs;

  load =
    m:
    let
      v = if isPath m || isString m then import m else m;
      body = if isFunction v then v args else v;
      file = if isPath m || isString m then toString m else "<inline module>";
    in
    {
      inherit file;
      imports = body.imports or [ ];
      options = body.options or { };
      config =
        if body ? config then body.config else removeAttrs body [ "imports" "options" "_file" "key" ];
    };
  collect = ms: concatMap (m: let l = load m; in [ l ] ++ collect l.imports) ms;
  loaded = collect ([ ./modules/base.nix ] ++ modules);

  mergeOptionTrees =
    a: b:
    a
    // builtins.mapAttrs (
      n: v:
      if a ? ${n} then
        (if isOption v || isOption a.${n} then throw "The option `${n}' is declared twice." else mergeOptionTrees a.${n} v)
      else
        v
    ) b;
  options = foldl' mergeOptionTrees { } (map (l: l.options) loaded);

  # Definitions pushed down to the option they set: { loc, value, conds, file }.
  # Nothing below an option is looked at here, so finding the definitions of
  # one option never evaluates the value of another (values may use config).
  flatten =
    file: opts: loc: c:
    let
      t = c._type or null;
    in
    if isOption opts then
      [
        {
          inherit loc file;
          value = c;
          conds = [ ];
        }
      ]
    else if !isAttrs c then
      throw "The option `${show loc}' does not exist (a value was given for a set of options) in `${file}'."
    else if t == "if" then
      map (d: d // { conds = [ c.condition ] ++ d.conds; }) (flatten file opts loc c.content)
    else if t == "merge" then
      concatMap (flatten file opts loc) c.contents
    else if t == "override" || t == "order" then
      map (d: d // { value = c // { content = d.value; }; }) (flatten file opts loc c.content)
    else
      concatMap (
        n:
        if opts ? ${n} then
          flatten file opts.${n} (loc ++ [ n ]) c.${n}
        else
          throw "The option `${show (loc ++ [ n ])}' does not exist. Definition values:\n- In `${file}'"
      ) (attrNames c);
  defs = concatMap (l: flatten l.file options [ ] l.config) loaded;

  # A definition's value with its properties applied: { value, prio, order }s.
  expand =
    prio: order: d: v:
    let
      t = if isAttrs v then v._type or null else null;
    in
    if t == "if" then
      (if v.condition then expand prio order d v.content else [ ])
    else if t == "merge" then
      concatMap (expand prio order d) v.contents
    else if t == "override" then
      expand v.priority order d v.content
    else if t == "order" then
      expand prio v.priority d v.content
    else
      [ (d // { inherit prio order; value = v; }) ];

  evalOption =
    loc: opt:
    let
      mine = concatMap (d: expand 100 1000 d d.value) (filter (d: d.loc == loc && all (c: c) d.conds) defs);
      best = foldl' (m: d: if d.prio < m then d.prio else m) 9999 mine;
      chosen = sort (a: b: a.order < b.order) (filter (d: d.prio == best) mine);
      bad = filter (d: !opt.type.check d.value) chosen;
    in
    if chosen == [ ] then
      (if opt.hasDefault then opt.default else throw "The option `${show loc}' was accessed but has no value defined. Try setting the option.")
    else if bad != [ ] then
      throw "A definition for option `${show loc}' is not of type `${opt.type.description}'. Definition values:\n- In `${(head bad).file}'"
    else
      opt.type.merge loc chosen;

  configOf = loc: opts: if isOption opts then evalOption loc opts else builtins.mapAttrs (n: configOf (loc ++ [ n ])) opts;
  config = configOf [ ] options;
in
{
  _type = "configuration";
  inherit config options;
  class = "nixos";
}
