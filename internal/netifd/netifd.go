// Package netifd finds the layer-3 device of OpenWrt's logical networks
// ("wan", "lan") by asking netifd over ubus, the way LuCI and the shell
// helpers of OpenWrt do:
//
//	ubus call network.interface.wan status
//
// answers with the network's state, and "l3_device" names the device
// that carries its IP traffic: pppoe-wan for PPPoE, eth0.7 for a VLAN,
// br-lan for a bridge. The daemon asks again on every reload; procd's
// interface trigger reloads it when netifd changes a network.
package netifd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ErrDown says that a network exists but is not up, or has no device yet.
var ErrDown = errors.New("network is not up")

// Ubus asks netifd through the ubus command-line tool.
type Ubus struct {
	// Command is the ubus tool; "" means "ubus" from PATH.
	Command string
	// Timeout bounds one call; 0 means 3 seconds.
	Timeout time.Duration
}

// L3Device returns the layer-3 device of network. A network that is down
// gives an error wrapping ErrDown.
func (u Ubus) L3Device(network string) (string, error) {
	cmd, timeout := u.Command, u.Timeout
	if cmd == "" {
		cmd = "ubus"
	}
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, cmd, "call", "network.interface."+network, "status")
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		// ubus says "Command failed: Not found" for a network netifd
		// does not know.
		return "", fmt.Errorf("netifd: network %q: %s", network, msg)
	}
	dev, err := ParseStatus(stdout.Bytes())
	if err != nil {
		return "", fmt.Errorf("netifd: network %q: %w", network, err)
	}
	return dev, nil
}

// ParseStatus reads the answer of network.interface.NAME status and returns
// the layer-3 device of an up network.
func ParseStatus(data []byte) (string, error) {
	var st struct {
		Up       bool   `json:"up"`
		L3Device string `json:"l3_device"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return "", fmt.Errorf("reading its status: %w", err)
	}
	if !st.Up || st.L3Device == "" {
		return "", ErrDown
	}
	return st.L3Device, nil
}
