// Command mcast-proxy is an IGMP/MLD multicast proxy (RFC 4605) for Linux routers.
package main

func main() {}
