# NixOS module: services.mcastProxy, the IGMP/MLD multicast proxy.
#
#   services.mcastProxy = {
#     enable = true;
#     settings.interfaces = {
#       wan.role = "upstream";
#       lan.role = "downstream";
#     };
#     openFirewall = true;
#   };
#
# The settings are typed from nix/options.nix (every option of
# mcast-proxy.conf(5)), rendered by nix/settings.nix and checked with
# `mcast-proxy -n` at build time. The service is the shipped systemd unit
# (init/mcast-proxy.service, installed by the package) with the paths of
# this system; a settings change reloads the daemon instead of restarting it.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.mcastProxy;
  inherit (lib) mkOption mkEnableOption mkPackageOption mkIf types literalExpression;

  renderer = import ./settings.nix;
  table = renderer.options;
  firewall = import ./firewall.nix;

  socket = "/run/mcast-proxy/mcast-proxy.sock";

  duration = types.either (types.ints.unsigned) (types.strMatching "[0-9]+(\\.[0-9]+)?(ms|s|m)?");

  rule = types.submodule {
    options = {
      action = mkOption {
        type = types.enum [ "allow" "deny" ];
        description = "Whether matching traffic is allowed or denied.";
      };
      group = mkOption {
        type = types.str;
        example = "239.0.0.0/8";
        description = "Multicast groups: a prefix in 224.0.0.0/4 or ff00::/8, a single group, or `any`.";
      };
      source = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "198.51.100.0/24";
        description = "Only for senders in this unicast prefix (source-specific joins).";
      };
    };
  };

  # One NixOS option from an entry of the table. Scalars default to null,
  # which leaves them out of the file so that the daemon's own default
  # applies; the description says what that default is.
  optionOf = name: o:
    let
      base =
        if o.type == "bool" then types.bool
        else if o.type == "int" then types.ints.between o.min o.max
        else if o.type == "duration" then duration
        else if o.type == "prefixes" then types.listOf types.str
        else if o.type == "rules" then types.listOf rule
        else throw "mcast-proxy module: unknown type ${o.type} of ${name}";
      isList = o.type == "prefixes" || o.type == "rules";
      onlyOn = lib.optionalString (o ? roles)
        "\n\nOnly on ${lib.concatStringsSep " and " (map (r: "`${r}`") o.roles)} interfaces.";
      daemonDefault =
        if o.default == null then (o.defaultText or "none")
        else if builtins.isBool o.default then (if o.default then "`true`" else "`false`")
        else "`${toString o.default}`";
    in
    if o.type == "role" then
      mkOption {
        type = types.enum [ "upstream" "downstream" "disabled" ];
        example = "downstream";
        description = o.description;
      }
    else if isList then
      mkOption {
        type = base;
        default = [ ];
        description = o.description + onlyOn;
      }
    else
      mkOption {
        type = types.nullOr base;
        default = null;
        description = o.description + onlyOn
          + "\n\n`null` leaves the option out of the file, and the daemon's default applies: ${daemonDefault}.";
      };

  interfaceOptions = lib.mapAttrs optionOf table.interface;
  globalOptions = lib.mapAttrs optionOf table.global;
  instanceOptions = globalOptions // {
    interfaces = mkOption {
      default = { };
      description = "The interfaces that take part, by kernel name (`eth0.7`, `ppp0`, `br-lan`). Interfaces that do not exist yet are waited for.";
      type = types.attrsOf (types.submodule { options = interfaceOptions; });
    };
  };

  configFile =
    if cfg.configFile != null then cfg.configFile
    else pkgs.writeText "mcast-proxy.conf" (renderer.render cfg.settings);

  # A bad setting fails the build, not the router.
  checkedConfig =
    if !cfg.checkConfig then configFile
    else pkgs.runCommand "mcast-proxy.conf" { } ''
      ${lib.getExe cfg.package} -n -f ${configFile}
      cp ${configFile} $out
    '';

  fw = firewall.rules cfg.settings;
  nftables = (config.networking.firewall.backend or (if config.networking.nftables.enable then "nftables" else "iptables")) == "nftables";
in
{
  options.services.mcastProxy = {
    enable = mkEnableOption "mcast-proxy, an IGMP/MLD multicast proxy (RFC 4605) for IPTV and other multicast from an upstream network to the LANs";

    # pkgs.mcast-proxy where an overlay or nixpkgs provides it, else the
    # package of this repository.
    package = mkPackageOption pkgs "mcast-proxy" { } // {
      default = pkgs.mcast-proxy or (pkgs.callPackage ./package.nix { });
    };

    settings = mkOption {
      default = { };
      example = literalExpression ''
        {
          ipv6 = true;
          interfaces = {
            "eth0.7" = { role = "upstream"; source = [ "198.51.100.0/24" ]; };
            br-lan = { role = "downstream"; fast-leave = true; };
          };
        }
      '';
      description = ''
        Configuration of mcast-proxy, written to `/etc/mcast-proxy.conf`; see
        mcast-proxy.conf(5). Option names are the keywords of that file;
        interfaces are written in alphabetical order of their names, which
        is also the failover order of upstreams of equal `priority`.
      '';
      type = types.submodule {
        options = instanceOptions // {
          proxies = mkOption {
            default = { };
            example = literalExpression ''
              {
                tv.interfaces = {
                  "eth0.7" = { role = "upstream"; source = [ "10.0.0.0/8" ]; };
                  br-tv.role = "downstream";
                };
              }
            '';
            description = ''
              Further proxy instances, by name (letters, digits and `_`): each
              has its own upstreams, downstreams and multicast routing table
              (`table`, chosen by the daemon when null), and inherits `ipv4`,
              `ipv6` and `max-memory-total` from the top level. An interface
              belongs to one instance.
            '';
            type = types.attrsOf (types.submodule { options = instanceOptions; });
          };
        };
      };
    };

    configFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = literalExpression "./mcast-proxy.conf";
      description = ''
        A configuration file written by hand in the format of
        mcast-proxy.conf(5), used instead of one generated from `settings`.
        Give a Nix path (`./mcast-proxy.conf`) or a file built with
        `pkgs.writeText`, so that it is in the store where the build-time check
        can read it; for a file outside the store, set `checkConfig = false`.
      '';
    };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Check the configuration file with `mcast-proxy -n` at build time, so
        that a bad setting fails the build instead of the service. Turn it off
        when cross-compiling, where the built program cannot run.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the firewall for the proxy, with either firewall backend: accept
        IGMP on the configured interfaces (MLD is ICMPv6, which NixOS accepts
        already), accept multicast forwarded from the upstreams to the
        downstreams (nftables with `networking.firewall.filterForward`), and
        let multicast from the upstreams' `source` prefixes pass the
        reverse-path check.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "-v" ];
      description = "Extra command-line arguments of the daemon; see mcast-proxy(8).";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = !(cfg.openFirewall && cfg.configFile != null);
        message = "services.mcastProxy.openFirewall takes the interfaces from settings: it cannot be used with configFile.";
      }
    ];

    environment.systemPackages = [ cfg.package ];

    # The daemon reads /etc/mcast-proxy.conf, also on reload: a store path
    # on its command line would keep naming the old file.
    environment.etc."mcast-proxy.conf".source = checkedConfig;

    # The unit shipped in the package, with this system's paths.
    systemd.packages = [ cfg.package ];
    systemd.services.mcast-proxy = {
      wantedBy = [ "multi-user.target" ];
      overrideStrategy = "asDropin";
      # A new configuration reloads the daemon (streams keep flowing); a
      # new package or unit restarts it. A restart, not a stop and a later
      # start: the unit's RuntimeDirectoryPreserve=restart then keeps
      # /run/mcast-proxy, and the daemon brings its streams back at once
      # from the state snapshot there.
      reloadTriggers = [ checkedConfig ];
      stopIfChanged = false;
      serviceConfig = {
        ExecStart = [
          ""
          "${lib.getExe cfg.package} -f /etc/mcast-proxy.conf -s ${socket} ${lib.escapeShellArgs cfg.extraArgs}"
        ];
        ExecReload = [ "" "${lib.getExe cfg.package} reload -s ${socket}" ];
      };
    };

    networking.firewall = mkIf cfg.openFirewall {
      extraCommands = mkIf (!nftables) fw.iptables;
      extraInputRules = mkIf nftables fw.nftablesInput;
      extraForwardRules = mkIf nftables fw.nftablesForward;
      extraReversePathFilterRules = mkIf nftables fw.nftablesReversePath;
    };
  };

  meta.maintainers = [ ];
}
