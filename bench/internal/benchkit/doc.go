package benchkit

import (
	"fmt"
	"os"
	"strings"
)

// Markers delimit a generated section of docs/BENCHMARKS.md: everything between
// BeginMarker(name) and EndMarker(name) belongs to the script called name.
func BeginMarker(name string) string { return "<!-- BEGIN " + name + " (generated: do not edit) -->" }

// EndMarker ends the section BeginMarker(name) starts.
func EndMarker(name string) string { return "<!-- END " + name + " -->" }

// ReplaceSection rewrites the section name of the Markdown file path with body. If the
// file has no such section, it is appended, after the section named after (if
// present) or at the end.
func ReplaceSection(path, name, after, body string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	begin, end := BeginMarker(name), EndMarker(name)
	section := begin + "\n" + strings.TrimRight(body, "\n") + "\n" + end
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	switch {
	case i >= 0 && j > i:
		doc = doc[:i] + section + doc[j+len(end):]
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s: section %s has only one of its markers", path, name)
	default:
		insertAt := len(doc)
		if after != "" {
			if k := strings.Index(doc, EndMarker(after)); k >= 0 {
				insertAt = k + len(EndMarker(after))
			}
		}
		doc = strings.TrimRight(doc[:insertAt], "\n") + "\n\n" + section + "\n" + doc[insertAt:]
	}
	if !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
