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
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/jsonlite"
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
	stdout, stderr, err := run(cmd, timeout, "call", "network.interface."+network, "status")
	if err != nil {
		msg := strings.TrimSpace(string(stderr))
		if msg == "" {
			msg = err.Error()
		}
		// ubus says "Command failed: Not found" for a network netifd
		// does not know.
		return "", format.Errorf("netifd: network %q: %s", network, msg)
	}
	dev, err := ParseStatus(stdout)
	if err != nil {
		return "", format.Errorf("netifd: network %q: %w", network, err)
	}
	return dev, nil
}

// run runs cmd (searched in PATH unless it holds a "/") with args and
// returns what it printed. It fails if the command exits with an error or
// takes longer than timeout, when it is killed. syscall.ForkExec rather
// than os/exec or os.StartProcess keeps the binary smaller (os/exec and
// path/filepath cost 64 KiB on MIPS, os.Process and its pidfd handling
// 27 KB more) for one call that needs none of their features.
func run(cmd string, timeout time.Duration, args ...string) (stdout, stderr []byte, err error) {
	path := cmd
	if !strings.Contains(cmd, "/") {
		path = ""
		for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
			if dir == "" {
				dir = "."
			}
			if fi, err := os.Stat(dir + "/" + cmd); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				path = dir + "/" + cmd
				break
			}
		}
		if path == "" {
			return nil, nil, format.Errorf("%s: not found in PATH", cmd)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, nil, err
	}
	// No standard input (-1 closes it in the child); the daemon's
	// environment, as os.StartProcess would give.
	pid, err := syscall.ForkExec(path, append([]string{cmd}, args...), &syscall.ProcAttr{
		Env: os.Environ(), Files: []uintptr{^uintptr(0), outW.Fd(), errW.Fd()}})
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, nil, format.Errorf("%s: %w", path, err)
	}
	// The timer kills the child only while it has not been waited for:
	// once reaped, its pid may be another process's.
	var mu sync.Mutex
	waited := false
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			mu.Lock()
			if !waited {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			mu.Unlock()
		case <-done:
		}
	}()
	errc := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(errR)
		errR.Close()
		errc <- b
	}()
	stdout, _ = io.ReadAll(outR)
	outR.Close()
	stderr = <-errc
	// Wait for the exit without reaping (WNOWAIT), then stop the timer's
	// kill, then reap: the pid stays the child's until then.
	var info unix.Siginfo
	for {
		err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != syscall.EINTR {
			break
		}
	}
	mu.Lock()
	waited = true
	mu.Unlock()
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	switch {
	case err != nil:
		return stdout, stderr, format.Errorf("%s: wait: %w", cmd, err)
	case ws.Signaled():
		return stdout, stderr, format.Errorf("%s: signal: %s", cmd, ws.Signal())
	case ws.ExitStatus() != 0:
		return stdout, stderr, format.Errorf("%s: exit status %d", cmd, ws.ExitStatus())
	}
	return stdout, stderr, nil
}

// ParseStatus reads the answer of network.interface.NAME status and returns
// the layer-3 device of an up network. As encoding/json would, it matches
// the names "up" and "l3_device" regardless of case, the last of repeated
// names winning, and ignores nulls and every other member.
func ParseStatus(data []byte) (string, error) {
	v, err := jsonlite.Parse(data)
	if err == nil && v.Kind != jsonlite.Object && v.Kind != jsonlite.Null {
		err = format.Errorf("json: cannot unmarshal %s into Go value of type struct", v.Kind)
	}
	if err != nil {
		return "", format.Errorf("reading its status: %w", err)
	}
	var up bool
	var dev string
	for _, m := range v.Members {
		switch {
		case m.Value.Kind == jsonlite.Null:
		case strings.EqualFold(m.Name, "up"):
			if m.Value.Kind != jsonlite.Bool {
				return "", format.Errorf("reading its status: json: cannot unmarshal %s into Go struct field .up of type bool", m.Value.Kind)
			}
			up = m.Value.Bool
		case strings.EqualFold(m.Name, "l3_device"):
			if m.Value.Kind != jsonlite.String {
				return "", format.Errorf("reading its status: json: cannot unmarshal %s into Go struct field .l3_device of type string", m.Value.Kind)
			}
			dev = m.Value.Str
		}
	}
	if !up || dev == "" {
		return "", ErrDown
	}
	return dev, nil
}
