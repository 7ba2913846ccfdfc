# callgate: the two commands a newcomer needs are `make run` and `make test`.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build test unit vet fuzz

# Serve the built-in default config: SQLite, a demo carrier on loopback.
run:
	go run -ldflags "$(LDFLAGS)" ./cmd/callgate

build:
	go build -ldflags "$(LDFLAGS)" -o bin/callgate ./cmd/callgate

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	go vet ./...
	go run $(STATICCHECK) ./...

# The whole suite: static checks, every test with the race detector on, then every
# fuzz target for a few seconds of new inputs. Needs SIPp, Chromium, Node and the
# PostgreSQL server binaries (Debian: sip-tester chromium nodejs postgresql).
test: vet unit
	$(MAKE) fuzz FUZZTIME=2s

unit:
	go test -race -count=1 -timeout 20m ./...

# Every fuzz target in turn, FUZZTIME each (make fuzz FUZZTIME=10m for a long run).
# A run that ends in "context deadline exceeded" without a failing input is the
# engine running out of -fuzztime while it minimized a new input,
# not a bug found; any failing input fails the target.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    out=$$(go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || \
	      if echo "$$out" | grep -q 'Failing input written to' || ! echo "$$out" | grep -q 'context deadline exceeded'; then \
	        echo "$$out"; exit 1; \
	      else echo "  (the fuzz engine hit -fuzztime while minimizing an input; no failing input: go on)"; fi; \
	  done; \
	done
