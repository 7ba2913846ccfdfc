// Package configs holds callgate's configuration schema, its strict YAML loading with
// file:line errors, the defaults, and validation. The example configs live beside it.
package configs

import "time"

// Config is the whole callgate configuration after loading, defaulting and validation.
type Config struct {
	// Listen holds the bind addresses of the three listeners.
	Listen Listen `yaml:"listen"`
	// SIP holds user-agent wide SIP settings.
	SIP SIP `yaml:"sip"`
	// Media holds the RTP port range and the address written into SDP.
	Media Media `yaml:"media"`
	// Storage selects and configures the store.
	Storage Storage `yaml:"storage"`
	// Log configures structured logging.
	Log Log `yaml:"log"`
	// TrunkFiles lists glob patterns, relative to the main file, of extra files holding
	// trunks (each such file has a top-level `trunks:` list only).
	TrunkFiles []string `yaml:"trunk_files"`
	// Tenants are the companies served by this deployment.
	Tenants []Tenant `yaml:"tenants"`
	// Trunks are the carrier SIP trunks (from the main file and TrunkFiles).
	Trunks []Trunk `yaml:"trunks"`
	// Pools are groups of numbers of one supplier, type and region.
	Pools []Pool `yaml:"pools"`
	// Bindings are static virtual-number bindings defined in config.
	Bindings []Binding `yaml:"bindings"`
	// Agents are the people who log in on the agent page and place calls for a tenant.
	Agents []Agent `yaml:"agents"`
	// AgentsLockout locks agents and source addresses out after failed logins
	// (security.go).
	AgentsLockout AgentsLockout `yaml:"agents_lockout"`
	// Web holds settings of the HTTP surface.
	Web Web `yaml:"web"`
	// Masking configures number masking: which virtual pools bindings come from, the
	// limits allocation and the binding GC keep, and what a call to an unbound
	// virtual number gets.
	Masking Masking `yaml:"masking"`
	// API configures the signed business API on the internal listener.
	API API `yaml:"api"`
	// Demo runs a demo carrier on loopback (used by the built-in default config).
	Demo Demo `yaml:"demo"`
	// Admin configures the admin page on the internal listener (admin.go).
	Admin Admin `yaml:"admin"`
	// Records sets how long call records are kept (records.go).
	Records Records `yaml:"records"`
	// Suppliers may report their numbers' state on the supplier endpoint
	// (suppliers.go).
	Suppliers []Supplier `yaml:"suppliers"`

	// Files lists every file the config was read from, main file first.
	Files []string `yaml:"-"`
}

// Listen holds the bind addresses of callgate's listeners. An empty address turns that
// listener off.
type Listen struct {
	SIPUDP       string `yaml:"sip_udp"`       // default 127.0.0.1:5060
	SIPTCP       string `yaml:"sip_tcp"`       // default 127.0.0.1:5060
	PublicHTTP   string `yaml:"public_http"`   // default 127.0.0.1:8080
	InternalHTTP string `yaml:"internal_http"` // default 127.0.0.1:8081
}

// SIP holds user-agent wide SIP settings.
type SIP struct {
	// PublicAddress is the host written into Via/Contact; default: the SIP listener's host.
	PublicAddress string `yaml:"public_address"`
	// UserAgent is the User-Agent header value; default "callgate".
	UserAgent string `yaml:"user_agent"`
	// RingTimeout bounds how long an outbound leg may ring; default 60s.
	RingTimeout Duration `yaml:"ring_timeout"`
	// MaxCallDuration hangs up answered calls after this long; default 4h; negative: off.
	MaxCallDuration Duration `yaml:"max_call_duration"`
	// ShutdownGrace is how long a graceful shutdown lets calls drain before hanging
	// them up; default 10s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// TransactionLinger is how long a finished SIP transaction stays to absorb
	// retransmissions (RFC 3261 timers J, L and M). Default 0: 64×T1 = 32 s, as the RFCs
	// say for UDP; 1s-32s keeps less memory per call set up (Kamailio's tm keeps 5 s).
	// It applies to the whole process.
	TransactionLinger Duration `yaml:"transaction_linger"`
	// NoRoute is the SIP status answered when an inbound call matches no binding;
	// default 404.
	NoRouteStatus int `yaml:"no_route_status"`
	// Limits bound what the SIP listeners accept before parsing (sip_limits.go).
	Limits SIPLimits `yaml:"limits"`
	// Scoring holds the thresholds of trunk scoring and failover (trunk_health.go).
	Scoring Scoring `yaml:"scoring"`
}

// Media holds RTP settings.
type Media struct {
	// PortMin and PortMax bound the even RTP ports callgate allocates; default 20000-29999.
	PortMin int `yaml:"port_min"`
	PortMax int `yaml:"port_max"`
	// BindAddress is the local IP RTP sockets bind to; default 127.0.0.1. Unless it is
	// a wildcard (0.0.0.0, ::) or ICEMux is set, it is also the only address browsers'
	// WebRTC legs offer ICE host candidates on.
	BindAddress string `yaml:"bind_address"`
	// PublicAddress is the IP written into SDP c= lines; default BindAddress.
	PublicAddress string `yaml:"public_address"`
	// RTPTimeout hangs up an answered call when no RTP arrives for this long; default
	// 60s; negative: off.
	RTPTimeout Duration `yaml:"rtp_timeout"`
	// RelayWorkers is how many epoll workers relay the RTP of SIP calls (Linux);
	// default 0: one per CPU callgate may use (GOMAXPROCS); negative: off, a
	// goroutine per call direction instead.
	RelayWorkers int `yaml:"relay_workers"`
	// RelaySharedProcs, when true, lets the relay workers share the Go scheduler's
	// processors (GOMAXPROCS) with everything else. By default each worker gets one
	// of its own on top, so a worker woken by packets never waits for call setup, the
	// GC or another goroutine to give a processor back: ~5% more CPU per packet, a
	// shorter latency tail (docs/BENCHMARKS.md, media relay).
	RelaySharedProcs bool `yaml:"relay_shared_procs"`

	// ICEPortMin and ICEPortMax bound the UDP ports of the browsers' WebRTC legs; both
	// 0 (the default) means any free port. When set, the range lies within 1024-65535
	// and apart from PortMin-PortMax.
	ICEPortMin int `yaml:"ice_port_min"`
	ICEPortMax int `yaml:"ice_port_max"`
	// ICEMux, when set, is the one UDP host:port all browsers' WebRTC legs share
	// (single-port ICE); the ICE port range must then be unset. Default: off.
	ICEMux string `yaml:"ice_mux"`
	// ICEPublicIPs are the IPs advertised to browsers as ICE candidates, for a host
	// behind 1:1 NAT; default: none (the host's own addresses).
	ICEPublicIPs []string `yaml:"ice_public_ips"`
}

// Storage selects the store. Exactly one of its members is set; default SQLite at
// ./callgate.db.
type Storage struct {
	SQLite *SQLite `yaml:"sqlite"`
	// Postgres selects the shared store of several instances (storage_pg.go).
	Postgres *Postgres `yaml:"postgres"`
}

// SQLite configures the embedded store.
type SQLite struct {
	// Path of the database file; default "callgate.db" (relative to the working dir).
	Path string `yaml:"path"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug|info|warn|error; default info
	Format string `yaml:"format"` // text|json; default text
}

// Tenant is one customer company.
type Tenant struct {
	Name string `yaml:"name"`
	// TimeZone is an IANA zone used for calendar-day windows; default UTC.
	TimeZone string `yaml:"time_zone"`
	// Seats is the number of agents that may be logged in at once; default 10.
	Seats int `yaml:"seats"`
	// DefaultRegion is the ISO 3166 region national numbers are read in ("0755…",
	// "138…" for CN); default CN.
	DefaultRegion string `yaml:"default_region"`
	// Callers is how agents' calls get their caller numbers (callers.go).
	Callers Callers `yaml:"callers"`
	// Events, when set, sends signed event callbacks to the tenant's business
	// system (events.go).
	Events *EventCallbacks `yaml:"events"`
	// Callbacks is what a customer calling back a caller number an agent used gets
	// (callbacks.go).
	Callbacks Callbacks `yaml:"callbacks"`
	// Recording records the tenant's calls to WAV files (recording.go).
	Recording Recording `yaml:"recording"`

	Pos Pos `yaml:"-"`
}

// Trunk is a carrier SIP trunk: where calls go out and come in from.
type Trunk struct {
	Name      string `yaml:"name"`
	Supplier  string `yaml:"supplier"`
	Host      string `yaml:"host"`
	Port      int    `yaml:"port"`      // default 5060 (5061 for tls)
	Transport string `yaml:"transport"` // udp|tcp|tls; default udp
	// Domain is the host part of Request-URI/To/From; default Host.
	Domain string `yaml:"domain"`
	// Auth holds digest credentials used when the trunk challenges us (and to register).
	Auth *TrunkAuth `yaml:"auth"`
	// Register, when set, makes callgate REGISTER to the trunk.
	Register *Register `yaml:"register"`
	// RegistersToUs, when set, lets the trunk REGISTER to callgate with digest
	// credentials; its address is then learnt, so host and inbound_cidrs may be left
	// out (registrar.go).
	RegistersToUs *InboundRegister `yaml:"registers_to_us"`
	// InboundCIDRs are the source networks calls from this trunk come from; default:
	// Host's address /32 (or /128) if Host is an IP.
	InboundCIDRs []string `yaml:"inbound_cidrs"`
	// Codecs allowed on this trunk, in preference order; default [PCMU, PCMA].
	Codecs []string `yaml:"codecs"`
	// MaxConcurrentCalls limits live calls on the trunk; 0: default 100; negative: off.
	MaxConcurrentCalls int `yaml:"max_concurrent_calls"`
	// MaxCallsPerSecond limits new outbound calls per second; 0: default 10; negative: off.
	MaxCallsPerSecond float64 `yaml:"max_calls_per_second"`
	// RatePerMinute is what the supplier charges per minute of calls placed on the
	// trunk, in thousandths of the currency unit (60 = 0.060 a minute); 0: not priced.
	RatePerMinute int64 `yaml:"rate_per_minute"`
	// BillingIncrement is how the supplier rounds a call's answered time, "first/next"
	// seconds (see billing.go); default 60/60.
	BillingIncrement BillingIncrement `yaml:"billing_increment"`
	// Weight is the trunk's manual weight in scoring; default 1; negative: the trunk
	// takes no new outbound calls (trunk_health.go).
	Weight float64 `yaml:"weight"`
	// InviteTimeout is how long an INVITE to the trunk may go without any response
	// before the call fails over; default 8s; negative: the SIP transaction timeout.
	InviteTimeout Duration `yaml:"invite_timeout"`
	// Probe, when set, sends SIP OPTIONS to the trunk; a trunk that stops answering
	// them takes no new calls (trunk_health.go).
	Probe *TrunkProbe `yaml:"probe"`

	// File and Pos say where the trunk was defined.
	Pos Pos `yaml:"-"`
}

// TrunkAuth holds digest credentials. The secret comes from exactly one of
// PasswordEnv (an environment variable name) or PasswordFile (a path); it is never
// written in the YAML itself.
type TrunkAuth struct {
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// Password is resolved at load time from PasswordEnv or PasswordFile.
	Password string `yaml:"-"`
}

// Register configures outbound registration to a trunk.
type Register struct {
	// Expires requested in REGISTER; default 300s.
	Expires Duration `yaml:"expires"`
	// User is the AOR user part; default Auth.Username.
	User string `yaml:"user"`
}

// Pool is a group of numbers of one supplier, type and region.
type Pool struct {
	Name     string `yaml:"name"`
	Supplier string `yaml:"supplier"`
	// Type is virtual|fixed|certified|mobile.
	Type   string `yaml:"type"`
	Region string `yaml:"region"`
	Tenant string `yaml:"tenant"`
	// Trunks carry calls placed from this pool's numbers, in order.
	Trunks  []string `yaml:"trunks"`
	Numbers []string `yaml:"numbers"` // E.164 with leading +
	// NumberRanges and NumbersFile add numbers: inclusive ranges "+A-+B" and a CSV
	// file (first column), expanded into Numbers at load (pool_numbers.go).
	NumberRanges []string `yaml:"number_ranges"`
	NumbersFile  string   `yaml:"numbers_file"`

	// Caller pools (fixed, certified, mobile) only; see callers.go.
	//
	// Cities are the cities a certified pool's numbers are certified for (required
	// for certified pools, here or per number). City and Province say where a mobile
	// or fixed pool's numbers are local; default: each number's own home, from its
	// prefix. Names are English or Chinese ("Shenzhen", "深圳").
	Cities   []string `yaml:"cities"`
	City     string   `yaml:"city"`
	Province string   `yaml:"province"`
	// CallsPerDay and CallsPerHour cap the calls from each number, replacing the
	// tenant's caller_per_day and caller_per_hour; 0: the tenant's; negative: none.
	CallsPerDay  int `yaml:"calls_per_day"`
	CallsPerHour int `yaml:"calls_per_hour"`
	// Overrides change the settings of single numbers.
	Overrides []NumberOverride `yaml:"overrides"`
	// Weight is the pool's manual weight in pool scoring; 0 means 1; negative: no
	// new bindings come from it (suppliers.go).
	Weight float64 `yaml:"weight"`

	Pos Pos `yaml:"-"`
}

// Binding is a static virtual-number binding. For now only mode AXN is allowed:
// any caller dialling Virtual reaches B.
type Binding struct {
	Tenant  string `yaml:"tenant"`
	Mode    string `yaml:"mode"` // AXN
	Virtual string `yaml:"virtual"`
	B       string `yaml:"b"`
	// Trunk carries the B-leg; default: the first trunk of the pool holding Virtual.
	Trunk string `yaml:"trunk"`

	Pos Pos `yaml:"-"`
}

// Agent is a person who logs in on the agent page to place calls for a tenant. An agent
// logs in with a password, checked against PasswordHash, or with a static token, read
// from the environment variable TokenEnv or the file TokenFile; at least one of the
// two ways must be configured. Neither a password nor a token is ever written in the
// YAML itself.
type Agent struct {
	// Tenant is the name of the agent's tenant.
	Tenant string `yaml:"tenant"`
	// Name identifies the agent within its tenant: 1 to 64 of A-Z a-z 0-9 . _ -.
	Name string `yaml:"name"`
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$) or an argon2id PHC string
	// ($argon2id$v=19$m=…,t=…,p=…$salt$hash) of the agent's password.
	PasswordHash string `yaml:"password_hash"`
	// TokenEnv names an environment variable holding the agent's login token.
	TokenEnv string `yaml:"token_env"`
	// TokenFile is the path of a file holding the agent's login token, relative to the
	// directory of the config file; trailing newlines are trimmed.
	TokenFile string `yaml:"token_file"`
	// Token is resolved at load time from TokenEnv or TokenFile: at least 16
	// characters, and no two agents share one. Empty if the agent has no token.
	Token string `yaml:"-"`

	Pos Pos `yaml:"-"`
}

// Web holds settings of the HTTP surface.
type Web struct {
	// AllowedOrigins are the origins ("https://crm.example.com", "http://127.0.0.1:9000")
	// of pages, besides callgate's own agent page, that may open the agent websocket:
	// business systems embedding the JS SDK. Scheme and host are lower-cased and a
	// default port (:80 for http, :443 for https) dropped, as browsers send them in the
	// Origin header. Default: none.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Public and Internal hold settings of the public listener (agent page,
	// websocket) and of the internal one (business API): their TLS (security.go).
	Public   HTTPListener `yaml:"public"`
	Internal HTTPListener `yaml:"internal"`
}

// Demo configures the built-in demo carrier: a SIP user agent on loopback that answers
// every call and echoes its audio, so a fresh install has something to call.
type Demo struct {
	Carrier string `yaml:"carrier"` // listen address, e.g. 127.0.0.1:5070; empty: off
}

// Pos is where an item was defined: file and line.
type Pos struct {
	File string
	Line int
}

// Duration is a time.Duration written in YAML as "30s", "5m", "2h".
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
