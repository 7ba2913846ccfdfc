package pool

import "time"

// Mode is a binding's masking mode.
type Mode string

// The binding modes.
const (
	ModeAXN  Mode = "AXN"  // any caller dialling X reaches B
	ModeAXB  Mode = "AXB"  // A dialling X reaches B, B dialling X reaches A
	ModeAXYB Mode = "AXYB" // A dialling X reaches B shown Y; B dialling Y reaches A shown X
)

// ExpiryType says when a binding stops routing.
type ExpiryType string

// The expiry types.
const (
	ExpiryNever          ExpiryType = "never"
	ExpiryAfterBind      ExpiryType = "after_bind"
	ExpiryAfterFirstCall ExpiryType = "after_first_call"
	ExpiryAfterLastCall  ExpiryType = "after_last_call"
	ExpiryAt             ExpiryType = "at"
)

// Binding maps a virtual number and calling party to the real party to reach.
type Binding struct {
	ID      int64
	Tenant  string
	Mode    Mode
	Virtual string // X, E.164
	A       string // empty for AXN
	B       string
	Y       string // AXYB only
	// Trunk is the trunk to place the B-leg on; empty means the pool's choice.
	Trunk     string
	Static    bool // defined in config
	Expiry    ExpiryType
	ExpirySec int64     // N for after_* types
	ExpireAt  time.Time // for ExpiryAt; zero otherwise
	CreatedAt time.Time
	FirstCall time.Time // zero until the first call
	LastCall  time.Time // zero until the first call

	// YTrunk carries the B-leg of an AXYB call from A to X, which shows Y; empty
	// means Trunk.
	YTrunk string
}

// Direction of a call as seen by callgate.
type Direction string

// The call directions.
const (
	Inbound  Direction = "inbound"  // a carrier called us (virtual number)
	Outbound Direction = "outbound" // an agent called out
)

// Call is one call record: everything finance and support ask about a call.
type Call struct {
	ID        string
	Tenant    string
	Direction Direction
	Agent     string
	Caller    string // number the callee saw / the A party
	Callee    string // number dialled (B)
	Virtual   string // for inbound masked calls
	InTrunk   string // trunk the call came in on (inbound)
	OutTrunk  string // trunk of the answered (or last) attempt
	State     string // setup, ringing, answered, ended
	SIPCode   int    // final SIP status of the call (200 for answered)
	Reason    string // hang-up cause: "caller_bye", "callee_bye", "cancel", "no_route", …
	HangupBy  string // "caller", "callee", "system"
	SetupAt   time.Time
	RingAt    time.Time // zero if never rang
	AnswerAt  time.Time // zero if not answered
	EndAt     time.Time
	BilledSec int64 // whole seconds from answer to end, rounded up
	CostMilli int64 // cost in thousandths of the tenant's currency unit
	// RTP packets callgate received from and sent to each leg: A is the caller's leg,
	// B the callee's. A zero on one side is how one-way audio shows in the records.
	PacketsFromA, PacketsToA int64
	PacketsFromB, PacketsToB int64
	Attempts                 []Attempt
	// Feedback holds the reports agents attached to the call, oldest first. Store.Call
	// fills it; Store.Calls leaves it nil.
	Feedback []Feedback
}

// Attempt is one outbound leg tried for a call.
type Attempt struct {
	CallID   string
	Seq      int
	Trunk    string
	From     string
	To       string
	SIPCode  int
	Reason   string
	StartAt  time.Time
	RingAt   time.Time
	AnswerAt time.Time
	EndAt    time.Time
}

// CallFilter selects call records. Zero fields do not filter.
type CallFilter struct {
	Tenant string
	// Agent selects the calls of one agent of Tenant; it needs Tenant, since agent
	// names are unique only within a tenant.
	Agent string
	Since time.Time
	Until time.Time
	Limit int // default 100
}

// FeedbackKind is what an agent reports about a call.
type FeedbackKind string

// The feedback kinds.
const (
	FeedbackNoRing      FeedbackKind = "no_ring"       // the callee's phone never rang
	FeedbackNoise       FeedbackKind = "noise"         // noise or distortion on the line
	FeedbackOneWayAudio FeedbackKind = "one_way_audio" // only one side could hear the other
	FeedbackWrongNumber FeedbackKind = "wrong_number"  // the call reached the wrong party
	FeedbackOther       FeedbackKind = "other"         // anything else; the note says what
)

// Valid reports whether k is one of the feedback kinds.
func (k FeedbackKind) Valid() bool {
	switch k {
	case FeedbackNoRing, FeedbackNoise, FeedbackOneWayAudio, FeedbackWrongNumber, FeedbackOther:
		return true
	}
	return false
}

// MaxFeedbackNote is the longest Feedback.Note the store accepts, in bytes.
const MaxFeedbackNote = 2000

// Feedback is one report an agent attached to a call record.
type Feedback struct {
	ID        int64 // assigned by the store
	CallID    string
	Kind      FeedbackKind
	Note      string // free text, at most MaxFeedbackNote bytes
	Agent     string // who reported it
	CreatedAt time.Time
}
