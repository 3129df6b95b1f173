package config

import "slices"

// Keywords returns the option keywords of the native format: the global
// ones and those of an interface block. Front-ends written in other
// languages (the NixOS module's renderer) are tested against it, so that a
// new option cannot be left out of them unnoticed.
func Keywords() (global, iface []string) {
	return slices.Clone(globalKeywords), slices.Clone(interfaceKeywords)
}
