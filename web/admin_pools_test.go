package web

import (
	"encoding/json"
	"testing"

	"callgate/routing"
)

// fakePools is a pool board with one scored pool.
type fakePools struct{}

func (fakePools) Scores() []routing.PoolScore {
	return []routing.PoolScore{{Pool: "acme-sz", Supplier: "s1", Total: 5, Remaining: 4, Blocked: 1, Counted: true,
		Weight: 1, Takes: true, Score: 0.42, Why: "weight 1"}}
}
func (fakePools) SetControl(string, routing.PoolControl) bool { return false }
func (fakePools) Order(pools []string) []string               { return pools }

// The overview carries the pools of the business API's pool board, with their
// numbers and scores; without a board, an empty list.
func TestAdminOverviewShowsPools(t *testing.T) {
	for _, tc := range []struct {
		name  string
		board PoolBoard
		want  int
	}{{"no board", nil, 0}, {"board", fakePools{}, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAdminEnv(t)
			e.api.pools = tc.board // before any request reads it
			c := e.client()
			e.login(c)
			res, body := e.send(c, "GET", "/admin/api/overview", "", "")
			var ov struct {
				Pools []routing.PoolScore `json:"pools"`
			}
			if err := json.Unmarshal(body, &ov); err != nil || res.StatusCode != 200 || ov.Pools == nil || len(ov.Pools) != tc.want {
				t.Fatalf("overview: %d %s", res.StatusCode, body)
			}
			if tc.want == 1 {
				if p := ov.Pools[0]; p.Pool != "acme-sz" || p.Remaining != 4 || p.Total != 5 || p.Score != 0.42 || !p.Counted {
					t.Fatalf("pool %+v", p)
				}
			}
		})
	}
}
