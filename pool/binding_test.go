package pool

import (
	"testing"
	"time"
)

func TestBindingEndsAt(t *testing.T) {
	created, first, last := t0, t0.Add(time.Hour), t0.Add(2*time.Hour)
	tests := []struct {
		name string
		b    Binding
		want time.Time // zero: no end
	}{
		{"never", Binding{Expiry: ExpiryNever, ExpirySec: 5}, time.Time{}},
		{"empty is never", Binding{}, time.Time{}},
		{"after_bind", Binding{Expiry: ExpiryAfterBind, ExpirySec: 60}, created.Add(time.Minute)},
		{"after_first_call uncalled", Binding{Expiry: ExpiryAfterFirstCall, ExpirySec: 60}, time.Time{}},
		{"after_first_call", Binding{Expiry: ExpiryAfterFirstCall, ExpirySec: 60, FirstCall: first, LastCall: last}, first.Add(time.Minute)},
		{"after_last_call uncalled", Binding{Expiry: ExpiryAfterLastCall, ExpirySec: 60}, created.Add(time.Minute)},
		{"after_last_call", Binding{Expiry: ExpiryAfterLastCall, ExpirySec: 60, FirstCall: first, LastCall: last}, last.Add(time.Minute)},
		{"at", Binding{Expiry: ExpiryAt, ExpireAt: last}, last},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.b.CreatedAt = created
			if got := tt.b.EndsAt(); !got.Equal(tt.want) {
				t.Errorf("EndsAt = %v, want %v", got, tt.want)
			}
			if tt.want.IsZero() {
				if !tt.b.ActiveAt(t0.Add(1000 * time.Hour)) {
					t.Error("binding without end is not active")
				}
				return
			}
			if !tt.b.ActiveAt(tt.want.Add(-time.Nanosecond)) || tt.b.ActiveAt(tt.want) {
				t.Errorf("ActiveAt is not true just before EndsAt and false at it")
			}
		})
	}
}
