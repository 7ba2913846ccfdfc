package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the business API as one app. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	app    string
	secret string
	http   *http.Client
	now    func() time.Time
}

// Option configures New.
type Option func(*Client) error

// WithHTTPClient sets the HTTP client; the default is one with a 30 s timeout.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error {
		if h == nil {
			return errors.New("apiclient: WithHTTPClient: nil client")
		}
		c.http = h
		return nil
	}
}

// WithClock sets the clock that stamps requests; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		if now == nil {
			return errors.New("apiclient: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// New returns a client of the API at baseURL (e.g. "http://10.20.0.5:8081") signing
// as app with secret.
func New(baseURL, app, secret string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("apiclient: base URL %q: want scheme://host[:port]", baseURL)
	}
	if app == "" || secret == "" {
		return nil, errors.New("apiclient: app and secret are required")
	}
	c := &Client{base: u, app: app, secret: secret, http: &http.Client{Timeout: 30 * time.Second}, now: time.Now}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// CreateBinding makes a binding (POST /v1/bindings).
func (c *Client) CreateBinding(ctx context.Context, r CreateBindingRequest) (Binding, error) {
	var b Binding
	_, err := c.do(ctx, http.MethodPost, "/v1/bindings", nil, r, &b)
	return b, err
}

// LookupOrBind returns the tenant's active binding of the party pair, or makes one;
// created says which (POST /v1/bindings/lookup-or-bind).
func (c *Client) LookupOrBind(ctx context.Context, r LookupOrBindRequest) (b Binding, created bool, err error) {
	status, err := c.do(ctx, http.MethodPost, "/v1/bindings/lookup-or-bind", nil, r, &b)
	return b, status == http.StatusCreated, err
}

// Binding reads binding id (GET /v1/bindings/{id}).
func (c *Client) Binding(ctx context.Context, id int64) (Binding, error) {
	var b Binding
	_, err := c.do(ctx, http.MethodGet, "/v1/bindings/"+strconv.FormatInt(id, 10), nil, nil, &b)
	return b, err
}

// UpdateBinding changes binding id's party B or expiry (PATCH /v1/bindings/{id}).
func (c *Client) UpdateBinding(ctx context.Context, id int64, r UpdateBindingRequest) (Binding, error) {
	var b Binding
	_, err := c.do(ctx, http.MethodPatch, "/v1/bindings/"+strconv.FormatInt(id, 10), nil, r, &b)
	return b, err
}

// DeleteBinding unbinds binding id and returns it as ended (DELETE /v1/bindings/{id}).
func (c *Client) DeleteBinding(ctx context.Context, id int64) (Binding, error) {
	var b Binding
	_, err := c.do(ctx, http.MethodDelete, "/v1/bindings/"+strconv.FormatInt(id, 10), nil, nil, &b)
	return b, err
}

// ListQuery selects bindings for ListBindings. Zero fields do not filter.
type ListQuery struct {
	Tenant  string
	Virtual string // X or Y
	Party   string // A or B
	Cursor  string // BindingList.NextCursor of the previous page
	Limit   int    // default 50, at most 500
}

// ListBindings returns one page of the live bindings q selects (GET /v1/bindings).
func (c *Client) ListBindings(ctx context.Context, q ListQuery) (BindingList, error) {
	v := url.Values{}
	for k, s := range map[string]string{"tenant": q.Tenant, "virtual": q.Virtual, "party": q.Party, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var l BindingList
	_, err := c.do(ctx, http.MethodGet, "/v1/bindings", v, nil, &l)
	return l, err
}

// do sends one signed request and decodes the answer into out, or returns an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	// url.Values.Encode writes spaces as "+"; %20 is the same to the server and
	// keeps the query plain RFC 3986.
	u.RawQuery = strings.ReplaceAll(query.Encode(), "+", "%20")
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("apiclient: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("apiclient: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := Sign(req, c.app, c.secret, c.now()); err != nil {
		return 0, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return res.StatusCode, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		e := &Error{Status: res.StatusCode}
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			e.ErrorDetail = eb.Error
		} else {
			e.Code, e.Message = "http_error", strings.TrimSpace(string(data))
		}
		return res.StatusCode, e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return res.StatusCode, fmt.Errorf("apiclient: %s %s: decode answer: %w", method, path, err)
	}
	return res.StatusCode, nil
}
