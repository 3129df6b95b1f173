# Entry point without flakes:
#
#   nix-build nix -A mcast-proxy
#
# and in configuration.nix:
#
#   imports = [ /path/to/mcast-proxy/nix/module.nix ];
#   services.mcastProxy.enable = true;
#
# The module uses pkgs.mcast-proxy when an overlay provides it, and builds
# nix/package.nix otherwise; `overlay` below provides it.
{ pkgs ? import <nixpkgs> { } }:

{
  mcast-proxy = pkgs.callPackage ./package.nix { };
  module = ./module.nix;
  overlay = final: prev: { mcast-proxy = final.callPackage ./package.nix { }; };
}
