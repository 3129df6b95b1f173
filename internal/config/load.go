package config

import (
	"bytes"
	"os"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Syntax is one of the configuration file formats.
type Syntax int

// The formats Load reads.
const (
	// SyntaxNative is mcast-proxy.conf(5): interface blocks in braces.
	SyntaxNative Syntax = iota
	// SyntaxUCI is OpenWrt's /etc/config format.
	SyntaxUCI
)

func (s Syntax) String() string {
	if s == SyntaxUCI {
		return "uci"
	}
	return "native"
}

// DetectSyntax tells the format of a configuration from its first word,
// comments and blank lines aside: a UCI file starts with "config" or
// "package" (or "c" or "p", which libuci reads the same), words that are
// never native keywords; anything else is native. So an empty file, or one of comments only, is native.
func DetectSyntax(data []byte) Syntax {
	for _, line := range bytes.Split(data, []byte("\n")) {
		f := bytes.FieldsFunc(line, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f' || r == ';' || r == '{'
		})
		if len(f) == 0 || f[0][0] == '#' {
			continue
		}
		if c := command(string(f[0])); c == "config" || c == "package" {
			return SyntaxUCI
		}
		return SyntaxNative
	}
	return SyntaxNative
}

// ParseAuto parses data in the format DetectSyntax finds.
func ParseAuto(file string, data []byte) (*Config, error) {
	if DetectSyntax(data) == SyntaxUCI {
		return ParseUCI(file, data)
	}
	return Parse(file, data)
}

// Load reads the configuration file at path, in either format (see
// DetectSyntax), and parses it. A file that cannot be read gives a wrapped
// *fs.PathError; invalid contents give Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, format.Errorf("config: %w", err)
	}
	return ParseAuto(path, data)
}
