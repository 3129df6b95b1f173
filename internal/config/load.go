package config

import (
	"fmt"
	"os"
)

// Load reads the native configuration file at path and parses it. A file
// that cannot be read gives a wrapped *fs.PathError; invalid contents give
// Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}
