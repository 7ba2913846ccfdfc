// Command pcaplat measures the setup latency a SIP edge adds, from a loopback capture
// of calls carrier A → edge → carrier B:
//
//	pcaplat -pcap cap.pcap -inf pairs.csv -a 127.0.0.2 -b 127.0.0.3
//
// It prints the distributions of (B-leg INVITE sent − A-leg INVITE received) and
// (A-leg 200 sent − B-leg 200 received), matched through the SIPp -inf file that
// bench/cmd/seed writes (A;V;B lines). The capture is a classic pcap (tcpdump -w);
// parsing is done here by hand: pcap record, IPv4, UDP, SIP start line and headers.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"

	"callgate/bench/internal/benchkit"
)

func main() {
	pcap := flag.String("pcap", "", "capture file (tcpdump -w)")
	inf := flag.String("inf", "", "SIPp -inf file with A;V;B lines")
	a := flag.String("a", "127.0.0.2", "carrier A's address (the caller side)")
	b := flag.String("b", "127.0.0.3", "carrier B's address (the callee side)")
	asJSON := flag.Bool("json", false, "print JSON")
	dump := flag.String("csv", "", "also write each call's latencies to this CSV file")
	flag.Parse()
	if *pcap == "" || *inf == "" {
		fmt.Fprintln(os.Stderr, "pcaplat: -pcap and -inf are required")
		os.Exit(2)
	}
	pairs, err := benchkit.ReadPairs(*inf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pcaplat:", err)
		os.Exit(1)
	}
	s := &benchkit.SetupLatency{A: netip.MustParseAddr(*a), B: netip.MustParseAddr(*b), Pairs: pairs}
	if err := benchkit.ReadPcapFile(*pcap, s.Add); err != nil {
		fmt.Fprintln(os.Stderr, "pcaplat:", err)
		os.Exit(1)
	}
	inv, ans := s.Results()
	if *dump != "" {
		f, err := os.Create(*dump)
		if err == nil {
			err = s.WriteCSV(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pcaplat:", err)
			os.Exit(1)
		}
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"invite": inv, "answer": ans,
			"unknown_pair": s.UnknownPair, "orphans": s.Orphans})
		return
	}
	fmt.Printf("A INVITE -> B INVITE: %s\n", inv)
	fmt.Printf("B 200    -> A 200:    %s\n", ans)
	if s.UnknownPair+s.Orphans > 0 {
		fmt.Printf("unmatched: %d A-leg INVITEs not in the -inf file, %d B-leg INVITEs without an A-leg\n", s.UnknownPair, s.Orphans)
	}
}
