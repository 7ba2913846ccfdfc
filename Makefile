# callgate: the two commands a newcomer needs are `make run` and `make test`.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build test vet fuzz

# Serve the built-in default config: SQLite, a demo carrier on loopback.
run:
	go run -ldflags "$(LDFLAGS)" ./cmd/callgate

build:
	go build -ldflags "$(LDFLAGS)" -o bin/callgate ./cmd/callgate

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	go vet ./...
	go run $(STATICCHECK) ./...

# The whole suite, race detector on. Needs SIPp, Chromium and Node (Debian: sip-tester
# chromium nodejs).
test: vet
	go test -race -count=1 -timeout 20m ./...

# A short run of every fuzz target.
fuzz:
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    go test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done
