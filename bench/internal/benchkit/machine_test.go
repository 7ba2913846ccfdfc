package benchkit

import (
	"strings"
	"testing"
)

func TestAddToolRunsTheBinaryWithItsArgs(t *testing.T) {
	var m Machine
	m.Tools = map[string]string{}
	m.AddTool("golang", "go", "version") // name and binary differ: the binary is what runs
	if got := m.Tools["golang"]; !strings.HasPrefix(got, "go version go") {
		t.Fatalf("Tools[golang] = %q, want go's version line", got)
	}
	m.AddTool("missing", "/nonexistent/tool", "-v")
	if got, ok := m.Tools["missing"]; ok {
		t.Fatalf("a tool that cannot run recorded %q", got)
	}
}
