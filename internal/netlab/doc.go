// Package netlab builds throwaway networks out of Linux network namespaces,
// veth pairs and bridges, for the end-to-end tests and the demo.
//
// A Lab gives every namespace it creates a name prefix unique to the run, so
// parallel runs never clash, and removes everything again on Close. Hosts in
// the lab are real kernel stacks: a Receiver is a UDP socket created inside a
// namespace that joins a group through the kernel (which then speaks IGMP), a
// Sender is a UDP socket sending numbered datagrams from a chosen source.
//
// The package needs root and works on Linux only; on other systems it is empty.
package netlab
