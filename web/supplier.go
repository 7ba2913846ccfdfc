package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// This file is the supplier endpoint on the public listener:
//
//	POST /supplier/v1/numbers/{number}   {"report": "blocked" | "restored" | "withdrawn"}
//
// Number suppliers report their own virtual numbers blocked (no new bindings until
// restored), restored, or withdrawn (retired). Each supplier signs exactly as a
// business app does (docs/api.md) with its own secret from the config's suppliers;
// supplier and business app tables are separate, so a supplier's signature opens
// nothing of the business API and a business app's nothing here, and their nonces do
// not meet.

// MaxSupplierBody is the largest request body the supplier endpoint reads.
const MaxSupplierBody = 4 << 10

// NumberReporter applies a supplier's report on one of its numbers;
// *pool.SQLiteStore is one.
type NumberReporter interface {
	ReportNumber(ctx context.Context, supplier, number string, r pool.NumberReport) (pool.NumberStateChange, error)
}

var _ NumberReporter = (*pool.SQLiteStore)(nil)

// SupplierApp is a supplier allowed on the endpoint.
type SupplierApp struct {
	Name   string // as pools[].supplier and X-Callgate-App say it
	Secret string
}

// SupplierAppsFrom returns the config's suppliers.
func SupplierAppsFrom(cfg *configs.Config) []SupplierApp {
	out := make([]SupplierApp, 0, len(cfg.Suppliers))
	for _, s := range cfg.Suppliers {
		out = append(out, SupplierApp{Name: s.Name, Secret: s.Secret})
	}
	return out
}

// SupplierDeps are what the supplier endpoint works with. Numbers and Nonces are
// required.
type SupplierDeps struct {
	Numbers NumberReporter
	Nonces  NonceStore
	// Suppliers may call the endpoint; with none, every request is refused.
	Suppliers []SupplierApp
	// Changed runs after a report changed a number's state (pool scores refresh);
	// nil: nothing.
	Changed func(ctx context.Context, ch pool.NumberStateChange)
	// Now is the clock of signatures; default time.Now.
	Now func() time.Time
	// Log receives refused and failed requests; default discards.
	Log *slog.Logger
}

// SupplierAPI is the handler of /supplier/v1/.
type SupplierAPI struct {
	verifier *Internal // only its apps (the suppliers) and nonces: see sign.go
	numbers  NumberReporter
	changed  func(ctx context.Context, ch pool.NumberStateChange)
	now      func() time.Time
	log      *slog.Logger
	mux      *http.ServeMux
}

var _ http.Handler = (*SupplierAPI)(nil)

// supplierNoncePrefix keeps suppliers' nonces apart from business apps' of the same
// name in the nonce store.
const supplierNoncePrefix = "supplier:"

// NewSupplierAPI returns the supplier endpoint's handler.
func NewSupplierAPI(d SupplierDeps) (*SupplierAPI, error) {
	if d.Numbers == nil || d.Nonces == nil {
		return nil, errors.New("web: NewSupplierAPI: Numbers and Nonces are required")
	}
	s := &SupplierAPI{verifier: &Internal{nonces: d.Nonces, apps: map[string]*apiApp{}}, numbers: d.Numbers,
		changed: d.Changed, now: d.Now, log: d.Log, mux: http.NewServeMux()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, a := range d.Suppliers {
		switch {
		case a.Name == "" || a.Secret == "":
			return nil, fmt.Errorf("web: NewSupplierAPI: supplier %q needs a name and a secret", a.Name)
		case s.verifier.apps[a.Name] != nil:
			return nil, fmt.Errorf("web: NewSupplierAPI: supplier %q listed twice", a.Name)
		}
		// The map key is what X-Callgate-App says; the name is the nonce namespace.
		s.verifier.apps[a.Name] = &apiApp{name: supplierNoncePrefix + a.Name, secret: a.Secret}
	}
	s.mux.HandleFunc("/supplier/v1/numbers/{number}", s.report)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeAPIError(w, &requestError{status: http.StatusNotFound, code: "not_found",
			msg: "no such endpoint; suppliers report numbers at POST /supplier/v1/numbers/{number}"})
	})
	return s, nil
}

// WithSuppliers serves the supplier endpoint under /supplier/v1/ on the public
// listener.
func WithSuppliers(h http.Handler) PublicOption {
	return func(p *Public) { p.mux.Handle("/supplier/v1/", h) }
}

// ServeHTTP serves /supplier/v1/.
func (s *SupplierAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// NumberReportRequest is the body of POST /supplier/v1/numbers/{number}.
type NumberReportRequest struct {
	// Report is blocked, restored or withdrawn.
	Report string `json:"report"`
	// Reason is free text for the log, at most 200 bytes.
	Reason string `json:"reason,omitempty"`
}

// NumberReportResponse answers a report: the number's state before and after.
type NumberReportResponse struct {
	Number   string `json:"number"`
	Pool     string `json:"pool"`
	Previous string `json:"previous_state"`
	State    string `json:"state"`
}

// report handles one report.
func (s *SupplierAPI) report(w http.ResponseWriter, r *http.Request) {
	supplier := ""
	err := func() error {
		if r.Method != http.MethodPost {
			return methodNotAllowed(r.Method, "POST")
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSupplierBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return &requestError{status: http.StatusBadRequest, code: "bad_request", msg: "cannot read the body: " + err.Error()}
		}
		app, err := s.verifier.verify(r.Context(), r, body, s.now())
		if err != nil {
			return err
		}
		supplier = app.name[len(supplierNoncePrefix):]
		n, err := number("number", r.PathValue("number"), true)
		if err != nil {
			return err
		}
		var req NumberReportRequest
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
		if len(req.Reason) > 200 {
			return badField("reason", "want at most 200 bytes")
		}
		rep := pool.NumberReport(req.Report)
		switch rep {
		case pool.ReportBlocked, pool.ReportRestored, pool.ReportWithdrawn:
		default:
			return badField("report", "%q: want blocked, restored or withdrawn", truncate(req.Report, 32))
		}
		ch, err := s.numbers.ReportNumber(r.Context(), supplier, n, rep)
		if errors.Is(err, pool.ErrNotFound) {
			return &requestError{status: http.StatusNotFound, code: "not_found",
				msg: "supplier " + strconv.Quote(supplier) + " has no number " + n}
		}
		if err != nil {
			return err
		}
		if ch.Before != ch.After && s.changed != nil {
			s.changed(r.Context(), ch)
		}
		if ch.Before != ch.After {
			s.log.InfoContext(r.Context(), "supplier report", "supplier", supplier, "number", n, "report", req.Report,
				"reason", req.Reason, "from", ch.Before, "to", ch.After)
		}
		writeJSON(w, http.StatusOK, NumberReportResponse{Number: ch.Number, Pool: ch.Pool, Previous: ch.Before, State: ch.After})
		return nil
	}()
	if err == nil {
		return
	}
	status := writeAPIError(w, err)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "supplier request failed", "path", r.URL.Path, "supplier", supplier, "status", status, "err", err)
}
