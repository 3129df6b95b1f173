# Every option of mcast-proxy.conf(5), as plain data. The renderer
# (settings.nix) and the NixOS module (module.nix) are both built from this
# table, and nix/nix_test.go checks it against the daemon's own keywords and
# defaults. Needs only builtins.
#
# Fields: type ("bool", "int", "duration", "role", "prefixes", "rules");
# min and max for ints; except, values an int may not take; default, the
# daemon's default (null when it is derived from another option, with
# defaultText saying how); roles, the interface roles the option is allowed
# on (every role when absent); description, in Markdown.
{
  global = {
    ipv4 = {
      type = "bool";
      default = true;
      description = "Proxy IPv4 multicast (IGMP). The default of every interface's `ipv4`.";
    };
    ipv6 = {
      type = "bool";
      default = false;
      description = "Proxy IPv6 multicast (MLD). The default of every interface's `ipv6`.";
    };
    table = {
      type = "int";
      min = 1;
      max = 4294967295;
      except = [ 253 ];
      default = null;
      defaultText = "the kernel's default multicast table";
      description = ''
        Linux multicast routing table to use (`MRT_TABLE`), so that mcast-proxy
        can run beside smcroute or pimd, which own the default table. The daemon
        installs and removes the `ip mrule`s of its interfaces. 253 is the
        default table itself and is refused.
      '';
    };
    max-memory-total = {
      type = "int";
      min = 64;
      max = 1048576;
      default = 4096;
      description = ''
        Memory in KiB that the state hosts create may take on all downstream
        interfaces together, IPv4 and IPv6 alike, besides each one's own
        `max-memory`; whatever would pass it is refused and counted.
      '';
    };
  };

  interface = {
    role = {
      type = "role";
      default = null;
      defaultText = "none: every interface needs a role";
      description = ''
        `upstream` faces the multicast source (the ISP); `downstream` faces
        the receivers, which the proxy queries; `disabled` keeps the interface
        out while its options are still checked. Several upstreams fail over
        by `priority`.
      '';
    };
    source = {
      type = "prefixes";
      roles = [ "upstream" ];
      default = [ ];
      description = ''
        Also accept multicast from senders in these prefixes on the upstream,
        besides the upstream's own subnets (an IPTV provider's headends).
      '';
    };
    priority = {
      type = "int";
      min = 0;
      max = 65535;
      roles = [ "upstream" ];
      default = 0;
      description = ''
        Failover order of the upstreams: the lowest value is preferred. Among
        equal priorities the first interface of the file wins, and the module
        writes interfaces in alphabetical order of their names.
      '';
    };
    threshold = {
      type = "int";
      min = 1;
      max = 255;
      default = 1;
      description = "TTL threshold: forward out of this interface only packets that arrived with a TTL above it.";
    };
    ipv4 = {
      type = "bool";
      default = null;
      defaultText = "the global `ipv4`";
      description = "Whether this interface takes part in IPv4 proxying.";
    };
    ipv6 = {
      type = "bool";
      default = null;
      defaultText = "the global `ipv6`";
      description = "Whether this interface takes part in IPv6 proxying.";
    };
    igmp-version = {
      type = "int";
      min = 1;
      max = 3;
      roles = [ "downstream" "disabled" ];
      default = 3;
      description = "Highest IGMP version used for queries (RFC 3376 §7); older hosts make the interface fall back.";
    };
    mld-version = {
      type = "int";
      min = 1;
      max = 2;
      roles = [ "downstream" "disabled" ];
      default = 2;
      description = "Highest MLD version used for queries (RFC 3810 §8).";
    };
    robustness = {
      type = "int";
      min = 1;
      max = 7;
      roles = [ "downstream" "disabled" ];
      default = 2;
      description = "Robustness variable (RFC 3376 §8.1): how many lost packets the protocol tolerates.";
    };
    query-interval = {
      type = "duration";
      roles = [ "downstream" "disabled" ];
      default = "125s";
      description = "Time between general queries (RFC 3376 §8.2), whole seconds from 1s to 31744s.";
    };
    query-response-interval = {
      type = "duration";
      roles = [ "downstream" "disabled" ];
      default = "10s";
      description = ''
        Maximum time hosts may take to answer a general query (RFC 3376 §8.3),
        a multiple of 100ms below `query-interval`; at most 25.5s with
        `igmp-version` 2, and exactly 10s with `igmp-version` 1.
      '';
    };
    last-member-query-interval = {
      type = "duration";
      roles = [ "downstream" "disabled" ];
      default = "1s";
      description = "Maximum response time of the group-specific queries sent after a leave, and the time between them (RFC 3376 §8.8).";
    };
    last-member-query-count = {
      type = "int";
      min = 1;
      max = 10;
      roles = [ "downstream" "disabled" ];
      default = null;
      defaultText = "the `robustness` value";
      description = "Number of group-specific queries sent before a group is given up (RFC 3376 §8.9).";
    };
    startup-query-interval = {
      type = "duration";
      roles = [ "downstream" "disabled" ];
      default = null;
      defaultText = "a quarter of `query-interval`";
      description = "Time between the general queries sent right after start (RFC 3376 §8.6), 100ms to 31744s.";
    };
    startup-query-count = {
      type = "int";
      min = 1;
      max = 10;
      roles = [ "downstream" "disabled" ];
      default = null;
      defaultText = "the `robustness` value";
      description = "Number of general queries sent at start (RFC 3376 §8.7).";
    };
    max-groups = {
      type = "int";
      min = 1;
      max = 65536;
      roles = [ "downstream" "disabled" ];
      default = 1024;
      description = "How many groups hosts on this interface may have joined at once, per family; reports beyond are ignored and counted.";
    };
    max-memory = {
      type = "int";
      min = 64;
      max = 1048576;
      roles = [ "downstream" "disabled" ];
      default = 2048;
      description = ''
        Memory in KiB that the state hosts on this interface create may take
        (groups, sources, hosts, their source lists, forwarding entries for
        what they send); whatever would pass it is refused and counted.
      '';
    };
    max-sources = {
      type = "int";
      min = 1;
      max = 1024;
      roles = [ "downstream" "disabled" ];
      default = 128;
      description = "How many sources one group may list on this interface; sources beyond are ignored and counted.";
    };
    fast-leave = {
      type = "bool";
      roles = [ "downstream" "disabled" ];
      default = false;
      description = ''
        Stop forwarding a group as soon as the last host that reported it
        leaves, without last-member queries. For one receiver per interface,
        or hosts that speak IGMPv3/MLDv2.
      '';
    };
    rules = {
      type = "rules";
      default = [ ];
      description = ''
        Access list, first match wins, nothing matching allows: on a
        downstream what hosts may join, on an upstream what may be requested
        there. Each rule is `{ action = "allow" | "deny"; group = PREFIX | "any";
        source = PREFIX | null; }`, written as `allow group 239.0.0.0/8`.
      '';
    };
  };
}
