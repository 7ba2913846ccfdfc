package benchkit

import (
	"math"
	"reflect"
	"testing"
)

func TestParseSteps(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"100,300, 600", []int{100, 300, 600}, true},
		{"50", []int{50}, true},
		{"", nil, false},
		{"100,x", nil, false},
		{"0,10", nil, false},
		{"300,100", nil, false},
		{"100,100", nil, false},
	} {
		got, err := ParseSteps(tc.in)
		if (err == nil) != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSteps(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && JoinInts(got) != JoinInts(tc.want) {
			t.Errorf("JoinInts(%v) = %q", got, JoinInts(got))
		}
	}
}

func TestParseStepLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want StepLine
		ok   bool
	}{
		{`window-end 300 {"Calls":300}`, StepLine{"window-end", 300, `{"Calls":300}`}, true},
		{"ramp-start 100", StepLine{"ramp-start", 100, ""}, true},
		{"step-failed 900 12 of 300 new agents could not connect", StepLine{"step-failed", 900, "12 of 300 new agents could not connect"}, true},
		{"# 985 of 1000 call setups failed", StepLine{"note", 0, "985 of 1000 call setups failed"}, true},
		{"done", StepLine{}, false},
		{"ice ERROR: 2026/11/21 something", StepLine{}, false},
	} {
		got, ok := ParseStepLine(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseStepLine(%q) = %+v, %v", tc.in, got, ok)
		}
	}
}

func TestLatencyHist(t *testing.T) {
	h := NewLatencyHist()
	if s := h.Summary(); s.N != 0 || !math.IsNaN(h.Quantile(0.5)) {
		t.Fatalf("empty: %+v", s)
	}
	for i := 1; i <= 100; i++ {
		h.Add(float64(i) - 0.5)
	}
	h.Add(70_000)
	o := NewLatencyHist()
	o.Merge(h)
	s := o.Summary()
	if s.N != 101 || s.P50 != 51 || s.P99 != 100 || s.Max != HistMaxUS+1 || s.Over50ms != 1 || s.Min != 0.5 {
		t.Fatalf("summary %+v", s)
	}
	o.Reset()
	if o.Summary().N != 0 {
		t.Fatal("Reset")
	}
}

func TestNewDist(t *testing.T) {
	if d := NewDist(nil); d.N != 0 {
		t.Fatalf("empty %+v", d)
	}
	d := NewDist([]float64{5, 1, 4, 2, 3})
	if d.N != 5 || d.P50 != 3 || d.P99 != 5 || d.Max != 5 {
		t.Fatalf("%+v", d)
	}
}
