package netifd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Answers of "ubus call network.interface.NAME status" as netifd gives
// them, trimmed to the fields that matter plus a few around them.
const (
	pppoeUp = `{
	"up": true,
	"pending": false,
	"available": true,
	"autostart": true,
	"dynamic": false,
	"uptime": 5123,
	"l3_device": "pppoe-wan",
	"proto": "pppoe",
	"device": "eth0.7",
	"ipv4-address": [ { "address": "198.51.100.7", "mask": 32, "ptpaddress": "198.51.100.1" } ],
	"data": { }
}`
	pppoeConnecting = `{
	"up": false,
	"pending": true,
	"available": true,
	"autostart": true,
	"dynamic": false,
	"proto": "pppoe",
	"device": "eth0.7",
	"data": { }
}`
	bridgeUp = `{"up":true,"pending":false,"available":true,"l3_device":"br-lan","proto":"static","device":"br-lan"}`
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"pppoe up", pppoeUp, "pppoe-wan", nil},
		{"pppoe connecting", pppoeConnecting, "", ErrDown},
		{"bridge", bridgeUp, "br-lan", nil},
		{"up without a device", `{"up":true}`, "", ErrDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus([]byte(tt.in))
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("ParseStatus = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
	if _, err := ParseStatus([]byte("Command failed")); err == nil {
		t.Error("ParseStatus accepts text that is not JSON")
	}
}

// TestUbus runs L3Device against a stand-in ubus script that answers like
// the real tool, so the command line and the error paths are exercised.
func TestUbus(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	script := filepath.Join(dir, "ubus")
	body := "#!/bin/sh\necho \"$@\" >> " + args + "\n" +
		"case \"$2\" in\n" +
		"network.interface.wan) cat <<'EOF'\n" + pppoeUp + "\nEOF\n;;\n" +
		"network.interface.lan) cat <<'EOF'\n" + pppoeConnecting + "\nEOF\n;;\n" +
		"*) echo 'Command failed: Not found' >&2; exit 4;;\nesac\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	u := Ubus{Command: script}
	if dev, err := u.L3Device("wan"); dev != "pppoe-wan" || err != nil {
		t.Errorf("wan: %q, %v; want pppoe-wan", dev, err)
	}
	if _, err := u.L3Device("lan"); !errors.Is(err, ErrDown) {
		t.Errorf("lan: %v; want ErrDown", err)
	}
	_, err := u.L3Device("iptv")
	if err == nil || !strings.Contains(err.Error(), `network "iptv": Command failed: Not found`) {
		t.Errorf("iptv: %v; want ubus's own message", err)
	}
	if _, err := (Ubus{Command: filepath.Join(dir, "missing")}).L3Device("wan"); err == nil {
		t.Error("a missing ubus tool gives no error")
	}
	// A hanging ubus is killed after the timeout.
	slow := filepath.Join(dir, "slow")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 10\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := (Ubus{Command: slow, Timeout: 200 * time.Millisecond}).L3Device("wan"); err == nil || !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("a hanging ubus: %v; want it killed", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hanging ubus took %v, want about the 200ms timeout", d)
	}
	// The tool runs with the daemon's environment.
	envCheck := filepath.Join(dir, "envcheck")
	if err := os.WriteFile(envCheck, []byte("#!/bin/sh\n[ \"$MCAST_NETIFD_TEST\" = yes ] || { echo 'no environment' >&2; exit 3; }\n"+
		"cat <<'EOF'\n"+pppoeUp+"\nEOF\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCAST_NETIFD_TEST", "yes")
	if dev, err := (Ubus{Command: envCheck}).L3Device("wan"); dev != "pppoe-wan" || err != nil {
		t.Errorf("with the environment: %q, %v", dev, err)
	}
	// A failing tool's exit status is in the error when it says nothing.
	quiet := filepath.Join(dir, "quiet")
	if err := os.WriteFile(quiet, []byte("#!/bin/sh\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := (Ubus{Command: quiet}).L3Device("wan"); err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("a tool that exits 7 silently: %v", err)
	}
	// Found through PATH, as on the router.
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	if dev, err := (Ubus{}).L3Device("wan"); dev != "pppoe-wan" || err != nil {
		t.Errorf("ubus from PATH: %q, %v", dev, err)
	}
	got, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	want := "call network.interface.wan status\ncall network.interface.lan status\ncall network.interface.iptv status\n" +
		"call network.interface.wan status\n"
	if string(got) != want {
		t.Errorf("ubus ran with\n%s\nwant\n%s", got, want)
	}
}
