# Makefile for mcast-proxy. Targets: build test test-cross test-kernel test-vm test-vm-32 test-systemd test-mips test-mips-deps demo cross size ipk lint bench bench-e2e bench-e2e-32 fuzz clean.
# The kernel tests and the demo need root and a kernel that routes multicast. Where the
# running kernel cannot (built without CONFIG_IP_MROUTE, or not root), they run in a QEMU
# test VM booting Debian's stock kernel instead (cmd/mcast-testvm, docs/testvm.md).

GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# The Go release that builds the daemon's binaries (build, build-386, cross, size, ipk,
# test-mips): local is the Go on PATH; a version (GO_RELEASE=go1.27.3) is fetched once through
# the Go module proxy (GOTOOLCHAIN). The binary's size and memory depend on it
# (docs/performance.md, "The Go release"). The tests always compile with the Go on PATH.
GO_RELEASE ?= local
go_release_env = $(if $(filter local,$(GO_RELEASE)),,GOTOOLCHAIN=$(GO_RELEASE))
GOBUILD := CGO_ENABLED=0 $(go_release_env) $(GO) build -trimpath -ldflags '$(LDFLAGS)'

# Pure packages: all their tests run under qemu on big-endian MIPS. internal/daemon is
# kernel-facing, but its tests only decode and encode packets, so all of them run too.
CROSS_PURE := internal/igmp internal/mld internal/membership internal/proxy internal/config internal/daemon internal/rawsys internal/logx internal/jsonlite internal/format
# Packages whose tests use only what qemu-user hands to the host kernel as it is (unix sockets,
# fork and exec, /proc and /sys): the control socket, sd_notify, ubus, the command line.
CROSS_HOST := internal/control internal/sdnotify internal/netifd internal/sorted internal/scope internal/sysctl cmd/mcast-proxy
# Kernel-facing packages: only their codec tests run under qemu (qemu rejects MRT_* and MCAST_* options).
CROSS_CODEC := internal/mroute internal/upstream
# linkwatch: only the rtnetlink decoding and snapshot Diff tests (the others open netlink sockets).
CROSS_LINKWATCH := internal/linkwatch
QEMU_MIPS ?= qemu-mips-static

# Packages whose tests need root and a multicast routing kernel; the rest run anywhere.
KERNEL_PKGS := ./internal/mroute ./internal/upstream ./internal/linkwatch ./internal/netlab ./internal/netns ./internal/e2e
# VM=auto: the VM only when the host kernel cannot route multicast (or we are not root);
# VM=yes: always the VM; VM=no: never.
VM      ?= auto
TESTVM  := $(BIN)/mcast-testvm
# What test-vm runs; VM_RUN narrows it to matching tests (go test -run).
VM_PKGS ?= $(KERNEL_PKGS)
VM_RUN  ?=
VM_TIMEOUT ?= 80m
# Whether to use the VM: "yes" or "no", decided once per make run.
use_vm = $(shell if [ "$(VM)" = yes ] || { [ "$(VM)" != no ] && ! $(TESTVM) probe >/dev/null 2>&1; }; then echo yes; else echo no; fi)

.PHONY: all build build-386 test test-pure test-cross test-kernel test-vm test-vm-32 test-systemd test-mips test-mips-deps demo cross size ipk lint bench bench-e2e bench-e2e-32 fuzz clean testvm

all: build

build:
	$(GOBUILD) -o $(BIN)/mcast-proxy ./cmd/mcast-proxy

# The kernel tests come last so that their summary closes the output.
test:
	$(GO) vet ./...
	$(MAKE) --no-print-directory test-cross
	$(MAKE) --no-print-directory test-pure
	$(MAKE) --no-print-directory test-systemd
	$(MAKE) --no-print-directory test-vm-32
	$(MAKE) --no-print-directory test-kernel

# Everything that needs neither root nor multicast routing, natively.
test-pure:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -E '/internal/(mroute|upstream|linkwatch|netlab|netns|e2e)$$')

# The kernel tests: natively where this kernel routes multicast and we are root, else in the VM.
test-kernel: build testvm
	@if [ "$(use_vm)" = yes ]; then \
		echo "kernel tests: in the test VM ($$($(TESTVM) probe 2>&1 | sed 's/^mcast-testvm: //' || true))"; \
		$(MAKE) --no-print-directory test-vm; \
	else \
		echo "kernel tests: natively on Linux $$(uname -r)"; \
		MCAST_PROXY_BIN=$(abspath $(BIN)/mcast-proxy) $(GO) test -count=1 -timeout 30m $(KERNEL_PKGS); \
	fi

# The kernel tests in the QEMU test VM, whatever the host kernel can do. One VM per package.
test-vm: build testvm
	@k=$$($(TESTVM) kernel) && echo "test VM kernel: $$k"
	MCAST_PROXY_BIN=$(abspath $(BIN)/mcast-proxy) $(GO) test -count=1 -p 1 -timeout $(VM_TIMEOUT) \
		-exec '$(abspath $(TESTVM)) exec' $(if $(VM_RUN),-run '$(value VM_RUN)') $(VM_PKGS)

# A selection of the end-to-end tests with a 32-bit build of the daemon (GOARCH=386), run in
# the x86-64 test VM by its kernel's 32-bit mode: routers run 32-bit binaries, whose kernel
# structs with word-sized fields (the routing socket's counters) and 64-bit atomics differ
# from the 64-bit build's. make test-mips runs all of them on a MIPS kernel, much slower.
VM32_RUN := ^(TestJoinForwards|TestSourceFilters|TestMLDJoinForwards|TestMLDSourceFilters|TestDualStack|TestStatus|TestOwnTable|TestRestartKeepsStreams|TestInstancesReadmeExample|TestHostileFlood|TestUnprivileged)$$
test-vm-32: build-386 testvm
	MCAST_PROXY_BIN=$(abspath $(BIN)/386/mcast-proxy) $(GO) test -count=1 -p 1 -timeout 30m \
		-exec '$(abspath $(TESTVM)) exec' -run '$(VM32_RUN)' ./internal/e2e

build-386:
	GOARCH=386 $(GOBUILD) -o $(BIN)/386/mcast-proxy ./cmd/mcast-proxy

# The systemd unit as shipped, under a real systemd: the test VM boots the host's systemd as
# init and runs internal/e2e's TestSystemdUnit (build tag systemdvm) as a service of it.
test-systemd: build testvm
	MCAST_PROXY_BIN=$(abspath $(BIN)/mcast-proxy) $(GO) test -count=1 -tags systemdvm -timeout 30m \
		-exec '$(abspath $(TESTVM)) -systemd exec' -run '^TestSystemdUnit$$' ./internal/e2e

testvm:
	$(GO) build -o $(TESTVM) ./cmd/mcast-testvm

# The kernel tests on 32-bit little-endian MIPS: Debian's Malta kernel under qemu-system-mipsel,
# the tests and the daemon cross-built (docs/testvm.md). Not part of `make test` (time); run it
# before a release and after changes to the kernel edge. MIPS_RUN picks the end-to-end tests;
# MIPS_PKGS the packages run whole.
MIPS_PKGS ?= ./internal/mroute ./internal/upstream ./internal/linkwatch
MIPS_RUN  ?= ^Test(JoinForwards|LastMemberLeaves|ForcedVersions|SourceFilters|MLDJoinForwards|MLDLastListenerLeaves|MLDSourceFilters|Status|ReloadKeepsStreams|UpstreamRecreated|SIGTERMCleansUp|MLDSIGTERMCleansUp)$$
# The end-to-end tests run in parallel on one emulated core; more at once slows the daemons'
# answers to the kernel beyond what a router's CPU would show (see docs/testvm.md).
MIPS_PARALLEL ?= 3
MIPS_ENV  := CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=softfloat
# What the MIPS VM needs from Debian: the mipsel package lists (for the kernel and the userland,
# fetched with apt-get download, nothing installed) and qemu-system-mips. Added when missing.
test-mips-deps:
	@if ! dpkg --print-foreign-architectures | grep -qx mipsel || ! command -v qemu-system-mipsel >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then echo "test-mips: run as root once, or: dpkg --add-architecture mipsel && apt-get update && apt-get install qemu-system-mips" >&2; exit 1; fi; \
		dpkg --add-architecture mipsel && apt-get update -q && apt-get install -y -q qemu-system-mips; \
	fi
test-mips: testvm test-mips-deps
	$(MIPS_ENV) $(GOBUILD) -o $(BIN)/mipsle/mcast-proxy ./cmd/mcast-proxy
	@k=$$($(TESTVM) -arch mipsle kernel) && echo "test VM kernel: $$k"
	$(if $(MIPS_PKGS),MCAST_PROXY_BIN=$(abspath $(BIN)/mipsle/mcast-proxy) $(MIPS_ENV) $(GO) test -count=1 -p 1 -timeout $(VM_TIMEOUT) \
		-exec '$(abspath $(TESTVM)) -arch mipsle exec' $(MIPS_PKGS))
	$(if $(MIPS_RUN),MCAST_PROXY_BIN=$(abspath $(BIN)/mipsle/mcast-proxy) $(MIPS_ENV) $(GO) test -count=1 -p 1 -timeout $(VM_TIMEOUT) \
		-parallel $(MIPS_PARALLEL) -exec '$(abspath $(TESTVM)) -arch mipsle exec' -run '$(MIPS_RUN)' ./internal/e2e)

# Cross-build test binaries for big-endian MIPS and run them under qemu-user.
test-cross:
	@command -v $(QEMU_MIPS) >/dev/null || { echo "$(QEMU_MIPS) not found: install qemu-user-static (apt-get install qemu-user-static)" >&2; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for p in $(CROSS_PURE) $(CROSS_HOST) $(CROSS_CODEC) $(CROSS_LINKWATCH); do \
		if [ ! -d "$$p" ]; then echo "test-cross: $$p does not exist yet, skipped"; continue; fi; \
		name=$$(echo "$$p" | tr / _); \
		CGO_ENABLED=0 GOOS=linux GOARCH=mips GOMIPS=softfloat $(GO) test -c -o "$$tmp/$$name.test" ./$$p; \
		if [ ! -f "$$tmp/$$name.test" ]; then echo "test-cross: $$p has no tests, skipped"; continue; fi; \
		run=""; \
		case " $(CROSS_CODEC) " in *" $$p "*) run='^Test(Encode|Decode)';; esac; \
		case " $(CROSS_LINKWATCH) " in *" $$p "*) run='^Test(Decode|Diff)';; esac; \
		echo "test-cross: $$p (linux/mips softfloat under $(QEMU_MIPS))"; \
		if [ -n "$$run" ]; then (cd "$$p" && $(QEMU_MIPS) "$$tmp/$$name.test" -test.count=1 -test.run "$$run"); \
		else (cd "$$p" && $(QEMU_MIPS) "$$tmp/$$name.test" -test.count=1); fi; \
	done

demo: build testvm
	$(GO) build -o $(BIN)/mcast-demo ./cmd/mcast-demo
	@if [ "$(use_vm)" = yes ]; then \
		echo "demo: in the test VM ($$($(TESTVM) probe 2>&1 | sed 's/^mcast-testvm: //' || true))"; \
		$(TESTVM) exec $(abspath $(BIN)/mcast-demo) -bin $(abspath $(BIN)/mcast-proxy); \
	else \
		echo "demo: natively on Linux $$(uname -r)"; \
		$(BIN)/mcast-demo -bin $(BIN)/mcast-proxy; \
	fi

cross:
	@set -e; \
	for t in mips:softfloat: mipsle:softfloat: arm::5 arm::7 arm64:: amd64::; do \
		arch=$${t%%:*}; rest=$${t#*:}; mips=$${rest%%:*}; arm=$${rest#*:}; \
		out=$(BIN)/mcast-proxy-linux-$$arch$${arm:+v$$arm}; \
		GOOS=linux GOARCH=$$arch GOMIPS=$$mips GOARM=$$arm $(GOBUILD) -o $$out ./cmd/mcast-proxy; \
		printf '%-36s %9d bytes\n' $$out $$(stat -c %s $$out); \
	done

# The shipped binary for linux/mips softfloat (the smallest routers): its size, and which
# packages the code and data come from (`go tool nm -size` of an unstripped build, summed by
# package; the pc tables, about 60% of the code size again, are not in these sums).
# docs/performance.md keeps the numbers. SIZE_TOP is how many packages to list.
SIZE_TOP ?= 25
size:
	@set -e; mkdir -p $(BIN)/size; env="CGO_ENABLED=0 GOOS=linux GOARCH=mips GOMIPS=softfloat $(go_release_env)"; \
	env $$env $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/size/mcast-proxy ./cmd/mcast-proxy; \
	env $$env $(GO) build -trimpath -ldflags '-X main.version=$(VERSION)' -o $(BIN)/size/mcast-proxy.sym ./cmd/mcast-proxy; \
	printf '%s %d bytes stripped (linux/mips softfloat, %s)\n' $(BIN)/size/mcast-proxy $$(stat -c %s $(BIN)/size/mcast-proxy) "$$($(go_release_env) $(GO) env GOVERSION)"; \
	$(go_release_env) $(GO) tool nm -size $(BIN)/size/mcast-proxy.sym | awk ' \
		$$3 ~ /^[Bb]$$/ { next } \
		{ s = $$4; for (i = 5; i <= NF; i++) s = s " " $$i; \
		  b = index(s, "["); if (b > 0) s = substr(s, 1, b - 1); \
		  if (s ~ /^type:/) p = "type:* (type descriptors, equality)"; \
		  else if (s ~ /^go:/) p = s " (func data)"; \
		  else { n = split(s, a, "/"); d = index(a[n], "."); p = substr(s, 1, length(s) - length(a[n]) + (d > 0 ? d - 1 : length(a[n]))) } \
		  sum[p] += $$2; tot += $$2 } \
		END { for (p in sum) printf "%9d  %s\n", sum[p], p; printf "%9d  %s\n", tot, "(all symbols)" }' \
		| sort -rn | head -n $$(($(SIZE_TOP) + 1))

# OpenWrt packages (.ipk) from static cross builds, for users without the OpenWrt SDK; each is
# read back and checked (openwrt/ipk). The version is the feed package's (openwrt/mcast-proxy).
IPK_VERSION ?= $(shell sed -n 's/^PKG_VERSION:=//p' openwrt/mcast-proxy/Makefile)-$(shell sed -n 's/^PKG_RELEASE:=//p' openwrt/mcast-proxy/Makefile)
# OpenWrt architecture:GOARCH:GOMIPS:GOARM
IPK_ARCHS ?= mips_24kc:mips:softfloat: mipsel_24kc:mipsle:softfloat: arm_cortex-a7_neon-vfpv4:arm::7 \
	aarch64_cortex-a53:arm64:: x86_64:amd64::
ipk:
	@set -e; mkdir -p $(BIN)/ipk; \
	mtime=$$(git log -1 --format=%ct 2>/dev/null || echo 0); \
	for t in $(IPK_ARCHS); do \
		arch=$${t%%:*}; rest=$${t#*:}; goarch=$${rest%%:*}; rest=$${rest#*:}; mips=$${rest%%:*}; arm=$${rest#*:}; \
		out=$(BIN)/ipk/mcast-proxy-$$arch; \
		GOOS=linux GOARCH=$$goarch GOMIPS=$$mips GOARM=$$arm $(GOBUILD) -o $$out ./cmd/mcast-proxy; \
		$(GO) run ./openwrt/ipk -bin $$out -arch $$arch -version $(IPK_VERSION) -mtime $$mtime -out $(BIN)/ipk; \
	done; \
	$(GO) run ./openwrt/ipk -check $(BIN)/ipk/*.ipk

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed, skipped"; fi
	@if command -v shellcheck >/dev/null; then shellcheck -s sh init/mcast-proxy.init files/mcast-proxy.rpcd files/mcast-proxy.postinst-pkg; \
	else echo "shellcheck not installed, skipped"; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

# The end-to-end measurements of docs/performance.md (join latency, a stream starting after
# the join, one host joining 1000 groups, CPU and memory), in the test VM, for mcast-proxy and
# then for igmpproxy (Debian's igmpproxy package) side by side. They log numbers; nothing is timed as pass or fail.
# TestReadWakeFloor compares the Go readers with a C one (testdata/wakereader.c), built here
# where a C compiler is at hand and left out otherwise.
BENCH_E2E_RUN := ^Test(ReadWakeFloor|JoinLatency|NewStreamLatency|ThousandGroups)$$
IGMPPROXY ?= /usr/sbin/igmpproxy
bench-e2e: build testvm
	@if ! { command -v cc >/dev/null && cc -O2 -static -o $(BIN)/wakereader internal/e2e/testdata/wakereader.c; }; then \
		echo "bench-e2e: no C compiler with a static libc: TestReadWakeFloor leaves the C reader out"; rm -f $(BIN)/wakereader; fi
	MCAST_E2E_WAKE_READER_C=$$([ -x $(BIN)/wakereader ] && echo $(abspath $(BIN)/wakereader)) \
	MCAST_PROXY_BIN=$(abspath $(BIN)/mcast-proxy) $(GO) test -count=1 -v -p 1 -timeout 30m \
		-exec '$(abspath $(TESTVM)) exec' -run '$(BENCH_E2E_RUN)' ./internal/e2e | grep -E '(latency|wake)_test|^(ok|FAIL|--- )'
	MCAST_E2E_PROXY=$(IGMPPROXY) MCAST_PROXY_BIN=$(abspath $(BIN)/mcast-proxy) $(GO) test -count=1 -v -p 1 -timeout 30m \
		-exec '$(abspath $(TESTVM)) exec' -run '$(BENCH_E2E_RUN)' -skip '^TestReadWakeFloor$$' ./internal/e2e | grep -E 'latency_test|^(ok|FAIL|--- )'

# TestThousandGroups with a 32-bit build of the daemon (GOARCH=386, run by the x86-64 test
# VM's kernel in its 32-bit mode): routers' CPUs are 32-bit, and a 64-bit build's pointers and
# words make much of the heap bigger than a router's would be (docs/performance.md, Memory).
bench-e2e-32: build-386 testvm
	MCAST_PROXY_BIN=$(abspath $(BIN)/386/mcast-proxy) $(GO) test -count=1 -v -p 1 -timeout 30m \
		-exec '$(abspath $(TESTVM)) exec' -run '^TestThousandGroups$$' ./internal/e2e | grep -E 'latency_test|^(ok|FAIL|--- )'

FUZZTIME ?= 10s
fuzz:
	@set -e; \
	for p in $$($(GO) list ./internal/...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$p); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go 2>/dev/null); do \
			echo "fuzz: $$p $$fn for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$p; \
		done; \
	done

clean:
	rm -rf $(BIN)
