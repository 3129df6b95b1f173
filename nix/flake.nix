# A flake for those who use them:
#
#   inputs.mcast-proxy.url = "github:mcast-proxy/mcast-proxy?dir=nix";
#   modules = [ mcast-proxy.nixosModules.default { services.mcastProxy.enable = true; } ];
#
# No flake.lock is committed: nixpkgs follows whatever the user's flake
# gives it (inputs.mcast-proxy.inputs.nixpkgs.follows = "nixpkgs").
{
  description = "mcast-proxy: IGMP/MLD multicast proxy (RFC 4605) for Linux routers";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "armv7l-linux" "i686-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAll (pkgs: rec {
        mcast-proxy = pkgs.callPackage ./package.nix { };
        default = mcast-proxy;
      });
      overlays.default = final: prev: { mcast-proxy = final.callPackage ./package.nix { }; };
      nixosModules.default = { ... }: {
        imports = [ ./module.nix ];
        nixpkgs.overlays = [ self.overlays.default ];
      };
    };
}
