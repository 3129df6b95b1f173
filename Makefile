# Makefile for mcast-proxy. Targets: build test test-cross demo cross lint bench fuzz clean.
# Tests and the demo need root (network namespaces, multicast routing).

GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'

# Pure packages: all their tests run under qemu on big-endian MIPS. internal/daemon is
# kernel-facing, but its tests only decode and encode packets, so all of them run too.
CROSS_PURE := internal/igmp internal/mld internal/membership internal/proxy internal/config internal/daemon
# Kernel-facing packages: only their codec tests run under qemu (qemu rejects MRT_* and MCAST_* options).
CROSS_CODEC := internal/mroute internal/upstream
# linkwatch: only the rtnetlink decoding and snapshot Diff tests (the others open netlink sockets).
CROSS_LINKWATCH := internal/linkwatch
QEMU_MIPS ?= qemu-mips-static

.PHONY: all build test test-cross demo cross lint bench fuzz clean need-root

all: build

build:
	$(GOBUILD) -o $(BIN)/mcast-proxy ./cmd/mcast-proxy

need-root:
	@if [ "$$(id -u)" != 0 ]; then echo "this target needs root (network namespaces, multicast routing): run 'sudo make $(MAKECMDGOALS)'" >&2; exit 1; fi

# The native run comes last so that its summary closes the output.
test: need-root
	$(GO) vet ./...
	$(MAKE) --no-print-directory test-cross
	$(GO) test -count=1 ./...

# Cross-build test binaries for big-endian MIPS and run them under qemu-user.
test-cross:
	@command -v $(QEMU_MIPS) >/dev/null || { echo "$(QEMU_MIPS) not found: install qemu-user-static (apt-get install qemu-user-static)" >&2; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for p in $(CROSS_PURE) $(CROSS_CODEC) $(CROSS_LINKWATCH); do \
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

demo: need-root build
	$(GO) run ./cmd/mcast-demo -bin $(BIN)/mcast-proxy

cross:
	@set -e; \
	for t in mips:softfloat: mipsle:softfloat: arm::5 arm::7 arm64:: amd64::; do \
		arch=$${t%%:*}; rest=$${t#*:}; mips=$${rest%%:*}; arm=$${rest#*:}; \
		out=$(BIN)/mcast-proxy-linux-$$arch$${arm:+v$$arm}; \
		GOOS=linux GOARCH=$$arch GOMIPS=$$mips GOARM=$$arm $(GOBUILD) -o $$out ./cmd/mcast-proxy; \
		printf '%-36s %9d bytes\n' $$out $$(stat -c %s $$out); \
	done

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed, skipped"; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

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
