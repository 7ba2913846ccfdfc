package configs

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
)

// summaryMaxRows bounds how many trunks, pools or bindings Summary lists one by one.
const summaryMaxRows = 20

// Summary describes a loaded config in a few lines for `callgate check`: the files
// read, the listeners, the media and ICE ports, the counts and names of tenants,
// trunks (address, transport, registration), pools (type, number count), numbers and
// bindings, the number of agents per tenant and the origins allowed to open the agent
// websocket. It never shows a secret, token or password hash.
func Summary(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "files: %s\n", strings.Join(c.Files, ", "))

	l := c.Listen
	fmt.Fprintf(&b, "listeners: sip/udp %s, sip/tcp %s, public http %s, internal http %s\n",
		orOff(l.SIPUDP), orOff(l.SIPTCP), orOff(l.PublicHTTP), orOff(l.InternalHTTP))
	for _, l := range []struct {
		name string
		tls  *TLSFiles
	}{{"public", c.Web.Public.TLS}, {"internal", c.Web.Internal.TLS}} {
		if l.tls != nil {
			fmt.Fprintf(&b, "tls: %s http serves HTTPS with %s (expires %s)\n", l.name, l.tls.CertFile, l.tls.NotAfter.UTC().Format("2006-01-02"))
		}
	}
	if c.SIP.PublicAddress != "" {
		fmt.Fprintf(&b, "sip: public address %s\n", c.SIP.PublicAddress)
	}
	fmt.Fprintf(&b, "media: %s ports %d-%d, SDP address %s\n",
		c.Media.BindAddress, c.Media.PortMin, c.Media.PortMax, c.Media.PublicAddress)
	if ice := iceSummary(c.Media); ice != "" {
		fmt.Fprintf(&b, "ice: %s\n", ice)
	}
	if c.Storage.SQLite != nil {
		fmt.Fprintf(&b, "storage: sqlite %s\n", c.Storage.SQLite.Path)
	}
	if pg := c.Storage.Postgres; pg != nil {
		fmt.Fprintf(&b, "storage: postgres (instance %q)\n", pg.Instance)
	}
	if c.Demo.Carrier != "" {
		fmt.Fprintf(&b, "demo carrier: %s\n", c.Demo.Carrier)
	}

	tenants := make([]string, len(c.Tenants))
	for i, t := range c.Tenants {
		tenants[i] = fmt.Sprintf("%s (%d seats, %s)", t.Name, t.Seats, t.TimeZone)
	}
	fmt.Fprintf(&b, "tenants: %d", len(tenants))
	if len(tenants) > 0 {
		fmt.Fprintf(&b, " — %s", strings.Join(tenants, ", "))
	}
	b.WriteByte('\n')

	fmt.Fprintf(&b, "trunks: %d\n", len(c.Trunks))
	table(&b, len(c.Trunks), func(i int) string {
		t := c.Trunks[i]
		reg := "no"
		if t.Register != nil {
			reg = "yes"
		}
		where := net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) + "/" + t.Transport
		if r := t.RegistersToUs; r != nil {
			reg = "to callgate as " + r.Username
			if t.Host == "" {
				where = "(learnt from its REGISTER)"
			}
		}
		return fmt.Sprintf("%s\t%s\tregister: %s\t%s", t.Name, where, reg, trunkHealthText(t))
	})

	numbers := 0
	fmt.Fprintf(&b, "pools: %d\n", len(c.Pools))
	for _, p := range c.Pools {
		numbers += len(p.Numbers)
	}
	table(&b, len(c.Pools), func(i int) string {
		p := c.Pools[i]
		owner := "shared"
		if p.Tenant != "" {
			owner = "tenant " + p.Tenant
		}
		return fmt.Sprintf("%s\t%s\t%d numbers\t%s\ttrunks: %s", p.Name, p.Type, len(p.Numbers), owner, strings.Join(p.Trunks, ", "))
	})
	fmt.Fprintf(&b, "numbers: %d\n", numbers)

	fmt.Fprintf(&b, "bindings: %d\n", len(c.Bindings))
	table(&b, len(c.Bindings), func(i int) string {
		bd := c.Bindings[i]
		return fmt.Sprintf("%s %s -> %s\ttenant %s\ttrunk %s", bd.Mode, bd.Virtual, bd.B, bd.Tenant, bd.Trunk)
	})

	var order []string
	perTenant := map[string]int{}
	for _, a := range c.Agents {
		if perTenant[a.Tenant] == 0 {
			order = append(order, a.Tenant)
		}
		perTenant[a.Tenant]++
	}
	fmt.Fprintf(&b, "agents: %d", len(c.Agents))
	for i, t := range order {
		sep := ", "
		if i == 0 {
			sep = " — "
		}
		fmt.Fprintf(&b, "%s%s: %d", sep, t, perTenant[t])
	}
	b.WriteByte('\n')

	origins := "none (only the agent page's own)"
	if len(c.Web.AllowedOrigins) > 0 {
		origins = strings.Join(c.Web.AllowedOrigins, ", ")
	}
	fmt.Fprintf(&b, "web: allowed origins %s\n", origins)
	maskingSummary(&b, c)
	callerSummary(&b, c)
	tenantExtrasSummary(&b, c) // records.go: seats, callbacks, event callbacks
	recordsSummary(&b, c)      // records.go
	return b.String()
}

// iceSummary describes the ICE settings of the browsers' legs, or "" if all are
// default.
func iceSummary(m Media) string {
	var parts []string
	switch {
	case m.ICEMux != "":
		parts = append(parts, "single port "+m.ICEMux)
	case m.ICEPortMin != 0:
		parts = append(parts, fmt.Sprintf("ports %d-%d", m.ICEPortMin, m.ICEPortMax))
	}
	if len(m.ICEPublicIPs) > 0 {
		parts = append(parts, "public IPs "+strings.Join(m.ICEPublicIPs, ", "))
	}
	return strings.Join(parts, ", ")
}

// table writes up to summaryMaxRows rows, indented, with tab-separated columns
// aligned, and says how many more there are.
func table(b *strings.Builder, n int, row func(i int) string) {
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	for i := range min(n, summaryMaxRows) {
		fmt.Fprintf(tw, "  %s\n", row(i))
	}
	_ = tw.Flush() // writes to a strings.Builder cannot fail
	if n > summaryMaxRows {
		fmt.Fprintf(b, "  … and %d more\n", n-summaryMaxRows)
	}
}

// orOff returns addr, or "off" for a listener turned off.
func orOff(addr string) string {
	if addr == "" {
		return "off"
	}
	return addr
}
