package configs

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// BuiltinName is the file name the embedded default config carries in errors and in
// Config.Files.
const BuiltinName = "(built-in default)"

// defaultYAML is the built-in default config: a self-contained demo on loopback.
//
//go:embed default.yaml
var defaultYAML string

// Load reads the config file at path and the trunk files its trunk_files patterns
// match, applies defaults and validates the result. Unknown and duplicate keys are
// errors. On failure it returns an ErrorList holding every problem found, each as
// "file:line: message".
func Load(path string) (*Config, error) {
	return osLoader().loadPath(path)
}

// Default returns the built-in default config: SQLite at callgate.db, SIP on
// 127.0.0.1:5060, HTTP on 127.0.0.1:8080 and 127.0.0.1:8081, and a demo tenant, trunk,
// pool and binding served by the demo carrier on 127.0.0.1:5070. It is loaded and
// checked like any config file, under the name BuiltinName.
func Default() (*Config, error) {
	return osLoader().load(BuiltinName, ".", []byte(defaultYAML))
}

// loader holds the outside world a load touches, so tests can replace it.
type loader struct {
	readFile  func(name string) ([]byte, error)
	glob      func(pattern string) ([]string, error)
	lookupEnv func(key string) (string, bool)
}

// osLoader reads the real file system and environment.
func osLoader() loader {
	return loader{readFile: os.ReadFile, glob: filepath.Glob, lookupEnv: os.LookupEnv}
}

// loadPath reads the main file at path and loads it.
func (l loader) loadPath(path string) (*Config, error) {
	b, err := l.readFile(path)
	if err != nil {
		return nil, ErrorList{readError(path, 0, "cannot read config file", err)}
	}
	return l.load(path, filepath.Dir(path), b)
}

// document is what the main file decodes into. It mirrors Config, except that list
// items are decoded one by one (see item), so one bad item neither hides the others
// nor shifts their positions.
type document struct {
	Listen     Listen           `yaml:"listen"`
	SIP        SIP              `yaml:"sip"`
	Media      Media            `yaml:"media"`
	Storage    Storage          `yaml:"storage"`
	Log        Log              `yaml:"log"`
	TrunkFiles []string         `yaml:"trunk_files"`
	Tenants    []*item[Tenant]  `yaml:"tenants"`
	Trunks     []*item[Trunk]   `yaml:"trunks"`
	Pools      []*item[Pool]    `yaml:"pools"`
	Bindings   []*item[Binding] `yaml:"bindings"`
	Agents     []*item[Agent]   `yaml:"agents"`
	Lockout    AgentsLockout    `yaml:"agents_lockout"`
	Web        Web              `yaml:"web"`
	Masking    Masking          `yaml:"masking"`
	API        API              `yaml:"api"`
	Demo       Demo             `yaml:"demo"`
	Records    Records          `yaml:"records"`
	Admin      Admin            `yaml:"admin"`
	Suppliers  []Supplier       `yaml:"suppliers"`
}

// trunkFile is the schema of a file named by trunk_files.
type trunkFile struct {
	Trunks []Trunk `yaml:"trunks"`
}

// trunkDocument is what a trunk file decodes into.
type trunkDocument struct {
	Trunks []*item[Trunk] `yaml:"trunks"`
}

// item decodes one list item strictly, keeping its node and its decoding errors
// instead of failing the whole list.
type item[T any] struct {
	val  T
	node *yaml.Node
	errs []*yaml.LoadError
}

// UnmarshalYAML decodes n into the item, recording rather than returning errors.
func (it *item[T]) UnmarshalYAML(n *yaml.Node) error {
	it.node = n
	err := n.Load(&it.val, yaml.WithKnownFields())
	if err == nil {
		return nil
	}
	var list *yaml.LoadErrors
	var one *yaml.LoadError
	switch {
	case errors.As(err, &list):
		it.errs = list.Errors
	case errors.As(err, &one):
		it.errs = []*yaml.LoadError{one}
	default:
		it.errs = []*yaml.LoadError{yaml.NewLoadError("constructor", err.Error(), yaml.Mark{Line: n.Line, Column: n.Column}, err)}
	}
	return nil
}

// origin is where a list item was defined.
type origin struct {
	file  string
	node  *yaml.Node
	index int // index in its file's list
}

// pos returns the item's position.
func (o origin) pos() Pos {
	if o.node == nil {
		return Pos{File: o.file}
	}
	return Pos{File: o.file, Line: o.node.Line}
}

// source is what validation needs to know about where a config came from.
type source struct {
	main string     // the main file's name
	root *yaml.Node // the main file's top-level mapping

	tenants, trunks, pools, bindings, agents []origin // parallel to the Config's lists

	// partial is set when some file could not be read or parsed at all: references
	// between items are then not checked, since their targets may be in that file.
	partial bool
}

// load parses, defaults and validates the main file name (read from b) and its trunk
// files, which are looked up relative to dir.
func (l loader) load(name, dir string, b []byte) (*Config, error) {
	var p problems
	var doc document
	root, w := parseFile(name, b, reflect.TypeFor[Config](), &doc, &p)
	if root == nil {
		return nil, p.err([]string{name})
	}
	cfg := &Config{
		Listen:     doc.Listen,
		SIP:        doc.SIP,
		Media:      doc.Media,
		Storage:    doc.Storage,
		Log:        doc.Log,
		TrunkFiles: doc.TrunkFiles,
		Web:        doc.Web,
		Masking:    doc.Masking,
		API:        doc.API,
		Demo:       doc.Demo,
		Records:    doc.Records,
		Admin:      doc.Admin,
		Suppliers:  doc.Suppliers,
		Files:      []string{name},
	}
	cfg.AgentsLockout = doc.Lockout
	src := &source{main: name, root: root}
	cfg.Tenants, src.tenants = unwrap(name, doc.Tenants, w)
	cfg.Trunks, src.trunks = unwrap(name, doc.Trunks, w)
	cfg.Pools, src.pools = unwrap(name, doc.Pools, w)
	cfg.Bindings, src.bindings = unwrap(name, doc.Bindings, w)
	cfg.Agents, src.agents = unwrap(name, doc.Agents, w)

	l.loadTrunkFiles(cfg, src, dir, &p)

	setPositions(cfg, src)
	applyDefaults(cfg)
	v := validation{cfg: cfg, src: src, probs: &p, loader: l}
	v.validate()
	if err := p.err(cfg.Files); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadTrunkFiles reads every file matched by cfg.TrunkFiles and appends its trunks.
func (l loader) loadTrunkFiles(cfg *Config, src *source, dir string, p *problems) {
	seen := map[string]bool{filepath.Clean(src.main): true}
	for i, pattern := range cfg.TrunkFiles {
		line := lineAt(src.root, "trunk_files", i)
		if strings.TrimSpace(pattern) == "" {
			p.add(ErrInvalid, src.main, line, nil, "trunk_files[%d]: empty pattern", i)
			continue
		}
		full := pattern
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, pattern)
		}
		matches, err := l.glob(full)
		if err != nil {
			p.add(ErrInvalid, src.main, line, err, "trunk_files[%d]: bad pattern %q: %v", i, pattern, err)
			continue
		}
		if len(matches) == 0 {
			p.add(ErrInvalid, src.main, line, nil, "trunk_files[%d]: %q matches no files (looked for %s)", i, pattern, full)
			continue
		}
		for _, m := range matches {
			if seen[filepath.Clean(m)] {
				continue
			}
			seen[filepath.Clean(m)] = true
			cfg.Files = append(cfg.Files, m)
			b, err := l.readFile(m)
			if err != nil {
				// At the line that named it: the file itself has no line to point at.
				p.push(readError(src.main, line, fmt.Sprintf("trunk_files[%d]: cannot read trunk file %s", i, m), err))
				src.partial = true
				continue
			}
			var doc trunkDocument
			root, w := parseFile(m, b, reflect.TypeFor[trunkFile](), &doc, p)
			if root == nil {
				src.partial = true
				continue
			}
			trunks, origins := unwrap(m, doc.Trunks, w)
			cfg.Trunks = append(cfg.Trunks, trunks...)
			src.trunks = append(src.trunks, origins...)
		}
	}
}

// parseFile parses b, checks its keys against schema and decodes it into out. It
// returns the top-level node and the walk that checked it, or nil if the file is not
// usable at all (not YAML, or empty).
func parseFile(name string, b []byte, schema reflect.Type, out any, p *problems) (*yaml.Node, *strictWalk) {
	var doc yaml.Node
	if err := yaml.Load(b, &doc); err != nil {
		syntaxErrors(name, b, err, p)
		return nil, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		p.add(ErrSyntax, name, 0, nil, "the file is empty")
		return nil, nil
	}
	root := doc.Content[0]
	if tooMuchAliasing(root) {
		p.add(ErrSyntax, name, 0, nil, "aliases (*name) expand the file to far more values than it holds; write the values out instead")
		return nil, nil
	}
	w := checkStrict(name, root, schema, p)
	if err := doc.Load(out, yaml.WithKnownFields()); err != nil {
		var list *yaml.LoadErrors
		var one *yaml.LoadError
		switch {
		case errors.As(err, &list):
			for _, e := range list.Errors {
				w.typeError(e)
			}
		case errors.As(err, &one):
			w.typeError(one)
		default:
			p.add(ErrSyntax, name, 0, err, "%v", err)
		}
	}
	return root, w
}

// unwrap takes the decoded items of one list out of their wrappers, reporting their
// decoding errors. Null items were reported by the strict walk and are dropped.
func unwrap[T any](file string, items []*item[T], w *strictWalk) ([]T, []origin) {
	var vals []T
	var origins []origin
	for i, it := range items {
		if it == nil {
			continue
		}
		for _, e := range it.errs {
			w.typeError(e)
		}
		vals = append(vals, it.val)
		origins = append(origins, origin{file: file, node: it.node, index: i})
	}
	return vals, origins
}

// setPositions records in each list item where it was defined.
func setPositions(cfg *Config, src *source) {
	for i := range cfg.Tenants {
		cfg.Tenants[i].Pos = src.tenants[i].pos()
	}
	for i := range cfg.Trunks {
		cfg.Trunks[i].Pos = src.trunks[i].pos()
	}
	for i := range cfg.Pools {
		cfg.Pools[i].Pos = src.pools[i].pos()
	}
	for i := range cfg.Bindings {
		cfg.Bindings[i].Pos = src.bindings[i].pos()
	}
	for i := range cfg.Agents {
		cfg.Agents[i].Pos = src.agents[i].pos()
	}
}

// syntaxErrors reports the errors of parsing b, the contents of file name, as YAML.
func syntaxErrors(name string, b []byte, err error, p *problems) {
	var list *yaml.LoadErrors
	var one *yaml.LoadError
	switch {
	case errors.As(err, &list):
		for _, e := range list.Errors {
			syntaxError(name, b, e, p)
		}
	case errors.As(err, &one):
		syntaxError(name, b, one, p)
	default:
		p.add(ErrSyntax, name, 0, err, "YAML syntax error: %v", err)
	}
}

// syntaxError reports one parse error with its line and, if the parser gave one, the
// construct it was in.
func syntaxError(name string, b []byte, e *yaml.LoadError, p *problems) {
	msg := strings.TrimPrefix(e.Message, "yaml: ")
	switch msg {
	case "no documents in stream":
		p.add(ErrSyntax, name, 0, e, "the file is empty")
		return
	case "expected single document, found multiple":
		p.add(ErrSyntax, name, secondDocumentLine(b), e, `a second YAML document starts here (after "---"); the file must hold exactly one`)
		return
	}
	if e.ContextMsg != "" {
		if e.ContextMark.Line > 0 && e.ContextMark.Line != e.Mark.Line {
			msg = fmt.Sprintf("%s (%s that starts at line %d)", msg, e.ContextMsg, e.ContextMark.Line)
		} else {
			msg = fmt.Sprintf("%s (%s)", msg, e.ContextMsg)
		}
	}
	p.add(ErrSyntax, name, e.Mark.Line, e, "YAML syntax error: %s", msg)
}

// secondDocumentLine returns the line where the second YAML document in b starts, or
// 0 if there is none or b does not parse.
func secondDocumentLine(b []byte) int {
	var docs []yaml.Node
	if err := yaml.Load(b, &docs, yaml.WithAllDocuments()); err != nil || len(docs) < 2 {
		return 0
	}
	return docs[1].Line
}

// readError describes a file that could not be read, without repeating its path.
func readError(file string, line int, what string, err error) *Error {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error()
	}
	return &Error{File: file, Line: line, Msg: what + ": " + reason, Kind: ErrRead, Cause: err}
}

// String returns "file:line".
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}
