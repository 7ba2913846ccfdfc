package configs

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// This file walks a parsed YAML node tree alongside the Go schema (the struct types of
// config.go) before decoding. The walk reports unknown and duplicate keys with the
// path of the mapping they are in and a spelling suggestion, and it remembers, for
// every value node, its path and the Go type it decodes into, so that the yaml
// library's terse type errors ("cannot construct !!str `x` into int") can be rewritten
// as "trunk "a": port: want a whole number, got "x"" at the same line.

// nodePos is a node's position; the yaml library reports its errors at node positions.
type nodePos struct{ line, col int }

// nodeInfo is what the strict walk learnt about one value node.
type nodeInfo struct {
	path string       // e.g. `trunk "carrier-a": auth: username`; "" for the top level
	typ  reflect.Type // the Go type the node decodes into
	node *yaml.Node
}

// visit identifies one (node, type) pair, so aliases are walked once per type.
type visit struct {
	n *yaml.Node
	t reflect.Type
}

// strictWalk holds the state of one walk over one file.
type strictWalk struct {
	file     string
	probs    *problems
	index    map[nodePos]nodeInfo
	reported map[nodePos]bool // positions already reported
	visited  map[visit]bool
}

// itemNoun returns the noun and the identifying key for list items of type t, or ""
// if t is not one of the item types.
func itemNoun(t reflect.Type) (noun, key string) {
	switch t {
	case reflect.TypeFor[Tenant]():
		return "tenant", "name"
	case reflect.TypeFor[Trunk]():
		return "trunk", "name"
	case reflect.TypeFor[Pool]():
		return "pool", "name"
	case reflect.TypeFor[Binding]():
		return "binding for virtual", "virtual"
	case reflect.TypeFor[Agent]():
		return "agent", "name"
	}
	return "", ""
}

// itemLabel names list item i of section (e.g. "trunks") in messages: `trunk "a"` when
// the item has an identifying value, else "trunks[3]".
func itemLabel(noun, id, section string, i int) string {
	if id != "" {
		return fmt.Sprintf("%s %q", noun, id)
	}
	return fmt.Sprintf("%s[%d]", section, i)
}

// checkStrict walks root (a document's content node) against schema, a struct type.
func checkStrict(file string, root *yaml.Node, schema reflect.Type, p *problems) *strictWalk {
	w := &strictWalk{
		file:     file,
		probs:    p,
		index:    make(map[nodePos]nodeInfo),
		reported: make(map[nodePos]bool),
		visited:  make(map[visit]bool),
	}
	w.walk(root, schema, "", "")
	return w
}

// walk checks node n, which decodes into a value of type t. Its path in messages is
// parent followed by name.
func (w *strictWalk) walk(n *yaml.Node, t reflect.Type, parent, name string) {
	path := join(parent, name)
	n = resolveAlias(n)
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if w.visited[visit{n, t}] {
		return
	}
	w.visited[visit{n, t}] = true
	pos := nodePos{n.Line, n.Column}
	if _, ok := w.index[pos]; !ok {
		w.index[pos] = nodeInfo{path: path, typ: t, node: n}
	}
	if isLeaf(t) {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		w.mapping(n, t, path)
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		w.sequence(n, t, parent, name)
	}
}

// mapping checks the keys of mapping n against struct type t. It reports a repeated
// key and removes it from the tree, keeping the first, so that the yaml library (which
// would drop the whole mapping) decodes the rest and later checks see real values.
func (w *strictWalk) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	content := n.Content // a cycle through an alias may replace n.Content meanwhile
	kept := make([]*yaml.Node, 0, len(content))
	seen := make(map[string]int)
	for i := 0; i+1 < len(content); i += 2 {
		k, v := content[i], content[i+1]
		rk := resolveAlias(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			kept = append(kept, k, v)
			continue // the yaml library reports non-scalar keys
		}
		kpos := nodePos{rk.Line, rk.Column}
		name := rk.Value
		if first, dup := seen[name]; dup {
			w.reported[kpos] = true
			w.probs.add(ErrDuplicateKey, w.file, rk.Line, nil, "%sduplicate key %q (first at line %d)", prefix(path), name, first)
			continue
		}
		seen[name] = rk.Line
		kept = append(kept, k, v)
		if isMergeKey(rk) {
			w.merge(v, t, path)
			continue
		}
		f, known := fields[name]
		if !known {
			w.reported[kpos] = true
			w.probs.add(ErrUnknownField, w.file, rk.Line, nil, "%s", unknownFieldMsg(path, name, t, fields))
			continue
		}
		w.walk(v, f.Type, path, name)
	}
	if len(kept) < len(content) {
		n.Content = kept
	}
}

// merge walks the mappings merged in by a "<<" key as part of the mapping holding it.
func (w *strictWalk) merge(v *yaml.Node, t reflect.Type, path string) {
	v = resolveAlias(v)
	if v == nil {
		return
	}
	switch v.Kind {
	case yaml.MappingNode:
		if !w.visited[visit{v, t}] {
			w.visited[visit{v, t}] = true
			w.mapping(v, t, path)
		}
	case yaml.SequenceNode:
		for _, m := range v.Content {
			if m = resolveAlias(m); m != nil && m.Kind == yaml.MappingNode && !w.visited[visit{m, t}] {
				w.visited[visit{m, t}] = true
				w.mapping(m, t, path)
			}
		}
	}
}

// sequence checks the elements of sequence n, the value of key field, against slice
// type t.
func (w *strictWalk) sequence(n *yaml.Node, t reflect.Type, parent, field string) {
	et := t.Elem()
	for et.Kind() == reflect.Pointer {
		et = et.Elem()
	}
	noun, key := itemNoun(et)
	for i, e := range n.Content {
		var label string
		if noun != "" {
			r := resolveAlias(e)
			if r == nil || isNull(r) {
				w.reported[nodePos{e.Line, e.Column}] = true
				w.probs.add(ErrInvalid, w.file, e.Line, nil, "%s%s[%d]: empty list item", prefix(parent), field, i)
				continue
			}
			label = itemLabel(noun, scalarKey(r, key), field, i)
		} else {
			label = fmt.Sprintf("%s[%d]", field, i)
		}
		w.walk(e, et, parent, label)
	}
}

// typeError rewrites an error from the yaml library as a problem at the same line,
// with the path of the offending node and, for type mismatches, what was wanted and
// what was found. Errors at keys already reported by the walk are dropped.
func (w *strictWalk) typeError(e *yaml.LoadError) {
	pos := nodePos{e.Mark.Line, e.Mark.Column}
	if w.reported[pos] {
		return
	}
	w.reported[pos] = true
	info, ok := w.index[pos]
	msg, kind := e.Message, ErrType
	switch {
	case strings.Contains(msg, " not found in type "):
		kind = ErrUnknownField
	case strings.Contains(msg, " already defined at line ") || strings.Contains(msg, " already set in type "):
		kind = ErrDuplicateKey
	case ok && strings.HasPrefix(msg, "cannot construct"):
		msg = fmt.Sprintf("want %s, got %s", wantDesc(info.typ), describeNode(info.node))
	}
	if ok {
		msg = prefix(info.path) + msg
	}
	w.probs.add(kind, w.file, e.Mark.Line, e, "%s", msg)
}

// unknownFieldMsg explains an unknown key and suggests the field probably meant.
func unknownFieldMsg(path, name string, t reflect.Type, fields map[string]reflect.StructField) string {
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	slices.Sort(known)
	where := prefix(path) + fmt.Sprintf("unknown field %q", name)
	if path == "" {
		where = fmt.Sprintf("unknown top-level field %q", name)
	}
	if s := suggest(name, known); len(s) > 0 {
		return fmt.Sprintf("%s (did you mean %s?)", where, quoteOr(s))
	}
	if t == reflect.TypeFor[trunkFile]() {
		return where + ` (a trunk file holds only a "trunks:" list)`
	}
	return fmt.Sprintf("%s (known fields: %s)", where, strings.Join(known, ", "))
}

// suggest returns the known names close to name: equal but for case, a prefix of
// one another, or within a small edit distance.
func suggest(name string, known []string) []string {
	var out []string
	lname := strings.ToLower(name)
	for _, k := range known {
		d := editDistance(lname, k)
		limit := 1
		if len(k) >= 5 {
			limit = 2
		}
		if d <= limit || (len(lname) >= 4 && (strings.HasPrefix(k, lname) || strings.HasPrefix(lname, k))) {
			out = append(out, k)
		}
	}
	return out
}

// quoteOr renders names as `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
func quoteOr(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// editDistance is the Optimal String Alignment distance between a and b (a
// transposition of neighbours counts as one edit).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// yamlFields maps the YAML keys of struct type t to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// isLeaf reports whether values of type t are decoded from a scalar without looking
// at nested keys: basic kinds and types with their own UnmarshalYAML.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array:
		return false
	}
	return true
}

// wantDesc describes, for an admin, what a value of type t looks like in YAML.
func wantDesc(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a text value"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct:
		return "a mapping of fields (key: value)"
	}
	return t.String()
}

// describeNode describes, for an admin, the value found in node n.
func describeNode(n *yaml.Node) string {
	n = resolveAlias(n)
	switch {
	case n == nil || isNull(n):
		return "nothing (null)"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "…"
	}
	return fmt.Sprintf("%q", v)
}

// resolveAlias follows alias nodes to the node they name; nil if the chain is broken
// or loops.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			return nil
		}
		n = n.Alias
	}
	return n
}

// isMergeKey reports whether k is the YAML merge key "<<".
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// isNull reports whether n is an empty or null scalar.
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// scalarKey returns the scalar value of key in mapping n (following merges), or "".
func scalarKey(n *yaml.Node, key string) string {
	if _, v := mappingEntry(n, key, 0); v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
		return v.Value
	}
	return ""
}

// mappingEntry returns the key and value nodes of key in mapping n, looking into
// merged mappings when n has no such key of its own; nil, nil if there is none.
func mappingEntry(n *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > 10 {
		return nil, nil
	}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := n.Content[i]
		if isMergeKey(kn) {
			merged = append(merged, n.Content[i+1])
			continue
		}
		if kn.Kind == yaml.ScalarNode && kn.Value == key {
			return kn, resolveAlias(n.Content[i+1])
		}
	}
	for _, m := range merged {
		m = resolveAlias(m)
		if m == nil {
			continue
		}
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			if k, v := mappingEntry(src, key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// lineAt returns the line of the node reached from n by path, whose elements are
// mapping keys (string) and sequence indexes (int): the line of the key for a key,
// of the element for an index. When the path cannot be followed to its end, it
// returns the line of the last node reached, so a problem with a defaulted or missing
// field is reported at the line of its parent.
func lineAt(n *yaml.Node, path ...any) int {
	n = resolveAlias(n)
	if n == nil {
		return 0
	}
	line := n.Line
	for _, step := range path {
		switch s := step.(type) {
		case string:
			k, v := mappingEntry(n, s, 0)
			if k == nil {
				return line
			}
			line, n = k.Line, v
		case int:
			if n == nil || n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return line
			}
			line, n = n.Content[s].Line, resolveAlias(n.Content[s])
		}
		if n == nil {
			return line
		}
	}
	return line
}

// join appends a segment to a message path.
func join(path, seg string) string {
	switch {
	case path == "":
		return seg
	case seg == "":
		return path
	}
	return path + ": " + seg
}

// prefix returns path followed by ": ", or "" for the top level.
func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// tooMuchAliasing reports whether aliases make the tree under root stand for far
// more values than it holds (a "billion laughs" file): more than ten times its nodes
// plus 10,000. Each list item is decoded on its own, so the yaml library's own alias
// limit, which counts per decode, does not bound the whole file.
func tooMuchAliasing(root *yaml.Node) bool {
	real := 0
	memo := map[*yaml.Node]int{}
	var count func(n *yaml.Node)
	count = func(n *yaml.Node) {
		real++
		for _, c := range n.Content {
			count(c)
		}
	}
	count(root)
	limit := 10*real + 10000
	var expanded func(n *yaml.Node) int
	expanded = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1
			}
			n = n.Alias
		}
		if v, ok := memo[n]; ok {
			return v
		}
		memo[n] = 1 // a cycle through an alias counts once
		total := 1
		for _, c := range n.Content {
			total += expanded(c)
			if total > limit {
				total = limit + 1
				break
			}
		}
		memo[n] = total
		return total
	}
	return expanded(root) > limit
}
