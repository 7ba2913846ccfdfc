package configs

import "testing"

// media.relay_workers: zero (the default) means one worker per CPU, negative
// turns the epoll relay off; both load as written.
func TestMediaRelayWorkers(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want int
	}{
		"default": {yaml: "media:\n  rtp_timeout: 5s\n", want: 0},
		"set":     {yaml: "media:\n  relay_workers: 3\n", want: 3},
		"off":     {yaml: "media:\n  relay_workers: -1\n", want: -1},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := memLoader(map[string]string{"main.yaml": tc.yaml}, nil).loadPath("main.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Media.RelayWorkers; got != tc.want {
				t.Errorf("RelayWorkers = %d, want %d", got, tc.want)
			}
		})
	}
	if _, err := memLoader(map[string]string{"main.yaml": "media:\n  relay_workers: many\n"}, nil).loadPath("main.yaml"); err == nil {
		t.Error("relay_workers: many accepted")
	}
}
