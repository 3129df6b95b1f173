module github.com/mcast-proxy/mcast-proxy

go 1.23.0

require (
	golang.org/x/net v0.43.0
	golang.org/x/sys v0.35.0
)
