# Evaluates module.nix without nixpkgs, for nix/nix_test.go. A small
# stand-in for the parts of nixpkgs' lib and pkgs the module uses records
# what it is given (writeText keeps its text, runCommand its script), and a
# small stand-in for the module system fills the options the user left out
# with their defaults. The result is what the module sets, as plain data.
#
# It is a test fixture, not a NixOS evaluation: it checks the module's own
# logic (which file, which command lines, which firewall backend, which
# options from the table), not how nixpkgs merges it.
{ user ? { }, nftables ? false }:
let
  option = args: { _type = "option"; } // args;
  type = name: extra: { _type = "type"; inherit name; } // extra;

  escapeShellArg = a: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] a + "'";

  lib = {
    mkOption = option;
    mkEnableOption = what: option { type = lib.types.bool; default = false; description = "Whether to enable ${what}."; };
    mkPackageOption = pkgs: name: _: option { type = lib.types.package; default = pkgs.${name}; };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    optionalString = c: s: if c then s else "";
    concatStringsSep = builtins.concatStringsSep;
    mapAttrs = builtins.mapAttrs;
    getExe = p: "${p}/bin/${p.meta.mainProgram}";
    escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);
    types = {
      bool = type "bool" { };
      str = type "str" { };
      path = type "path" { };
      package = type "package" { };
      ints = {
        unsigned = type "unsigned" { };
        between = min: max: type "between" { inherit min max; };
      };
      strMatching = regex: type "strMatching" { inherit regex; };
      either = a: b: type "either" { members = [ a b ]; };
      enum = values: type "enum" { inherit values; };
      nullOr = t: type "nullOr" { elem = t; };
      listOf = t: type "listOf" { elem = t; };
      attrsOf = t: type "attrsOf" { elem = t; };
      submodule = m: type "submodule" { options = m.options; };
    };
  };

  package = {
    outPath = "/nix/store/0000-mcast-proxy";
    meta.mainProgram = "mcast-proxy";
  };

  pkgs = {
    mcast-proxy = package;
    writeText = name: text: { outPath = "/nix/store/0001-${name}"; inherit text; };
    runCommand = name: env: script: { outPath = "/nix/store/0002-checked-${name}"; inherit script; };
  };

  # The module system's part: the user's values over the options' defaults,
  # into submodules and attribute sets of submodules.
  fill = opts: values:
    builtins.mapAttrs (name: o:
      let
        given = builtins.hasAttr name values;
        v = values.${name};
      in
      if o.type.name == "submodule" then fill o.type.options (if given then v else { })
      else if o.type.name == "attrsOf" && o.type.elem.name == "submodule" then
        builtins.mapAttrs (_: fill o.type.elem.options) (if given then v else o.default)
      else if given then v
      else if o ? default then o.default
      else throw "option ${name} is used but not defined")
      opts;

  module = import ../module.nix { inherit config lib pkgs; };
  config = {
    services.mcastProxy = fill module.options.services.mcastProxy user;
    networking.nftables.enable = nftables;
    networking.firewall = { };
  };

  # mkIf resolved; what a false condition guards is left out.
  resolve = v:
    if builtins.isAttrs v && (v._type or null) == "if" then
      (if v.condition then resolve v.content else null)
    else if builtins.isAttrs v && !(v ? outPath) then
      let r = builtins.mapAttrs (_: resolve) v; in
      builtins.removeAttrs r (builtins.filter (n: r.${n} == null) (builtins.attrNames r))
    else v;

  out = resolve module.config;
  etc = out.environment.etc."mcast-proxy.conf".source or null;
  interfaceOptions = module.options.services.mcastProxy.settings.type.options.interfaces.type.elem.options;
  describe = o: {
    type = o.type.name;
    elem = o.type.elem.name or null;
    min = o.type.elem.min or o.type.min or null;
    max = o.type.elem.max or o.type.max or null;
    default = o.default or "required";
  };
in
{
  enabled = out != null && out != { };
  etcSource = if etc == null then null else toString etc;
  checkScript = etc.script or null;
  configText = if etc == null then null else (etc.text or null);
  execStart = out.systemd.services.mcast-proxy.serviceConfig.ExecStart or null;
  execReload = out.systemd.services.mcast-proxy.serviceConfig.ExecReload or null;
  reloadTriggers = map toString (out.systemd.services.mcast-proxy.reloadTriggers or [ ]);
  overrideStrategy = out.systemd.services.mcast-proxy.overrideStrategy or null;
  stopIfChanged = out.systemd.services.mcast-proxy.stopIfChanged or null;
  wantedBy = out.systemd.services.mcast-proxy.wantedBy or [ ];
  unitPackages = map toString (out.systemd.packages or [ ]);
  firewall = out.networking.firewall or { };
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) (out.assertions or [ ]));
  globalOptions = builtins.mapAttrs (_: describe)
    (builtins.removeAttrs module.options.services.mcastProxy.settings.type.options [ "interfaces" "proxies" ]);
  interfaceOptions = builtins.mapAttrs (_: describe) interfaceOptions;
}
