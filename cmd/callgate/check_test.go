package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckReportsFileLineAndFails(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, text string
		want       *regexp.Regexp
	}{
		{
			name: "misspelt.yaml",
			text: "trunks:\n  - name: carrier-a\n    host: 192.0.2.10\n    trasport: udp\n",
			want: regexp.MustCompile(`misspelt\.yaml:4: .*unknown field "trasport"`),
		},
		{
			name: "badcidr.yaml",
			text: "trunks:\n  - name: carrier-a\n    host: 192.0.2.10\n    inbound_cidrs:\n      - 192.0.2.0/24\n      - 10.0.0.300/24\n",
			want: regexp.MustCompile(`badcidr\.yaml:6: .*invalid CIDR "10\.0\.0\.300/24"`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, tt.name, tt.text)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"check", "--config", path}, &stdout, &stderr)
			if code == 0 {
				t.Fatalf("check exited 0 on a bad file; stdout:\n%s", stdout.String())
			}
			if !tt.want.MatchString(stderr.String()) {
				t.Fatalf("stderr does not match %s:\n%s", tt.want, stderr.String())
			}
		})
	}
}

func TestCheckGoodFilePrintsSummary(t *testing.T) {
	t.Setenv("CALLGATE_CARRIER_A_PASSWORD", "example")
	t.Setenv("CALLGATE_AGENT_CRM_BOT_TOKEN", "example-token-0123456789")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "--config", "../../configs/callgate.example.yaml"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("check exited %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "OK") || !strings.Contains(stdout.String(), "carrier-a") {
		t.Fatalf("summary does not name the trunk:\n%s", stdout.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"check"}, {"serve", "--nope"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("callgate %v exited %d, want 2", args, code)
		}
	}
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &stdout, &stdout); code != 0 || !strings.HasPrefix(stdout.String(), "callgate ") {
		t.Errorf("version: %d %q", code, stdout.String())
	}
}
