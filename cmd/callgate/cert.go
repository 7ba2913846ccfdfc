package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"callgate/configs"
)

// This file holds the certificates of the HTTP listeners: `callgate cert`, which
// makes a self-signed pair for development, and the TLS settings and timeouts the
// listeners serve with.

// certCmd writes a self-signed ECDSA P-256 certificate and key for the hosts given.
func certCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callgate cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.String("host", "localhost,127.0.0.1,::1", "comma-separated DNS names and IP addresses the certificate is valid for")
	out := fs.String("out", "", "directory to write cert.pem and key.pem to (created if missing)")
	days := fs.Int("days", 90, "days the certificate is valid")
	force := fs.Bool("force", false, "replace cert.pem and key.pem if they exist")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "callgate cert: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *out == "":
		fmt.Fprintln(stderr, "callgate cert: --out DIR is required")
		return 2
	case *days < 1 || *days > 3650:
		fmt.Fprintln(stderr, "callgate cert: --days must be 1 to 3650")
		return 2
	}
	names, ips, err := certHosts(*hosts)
	if err != nil {
		fmt.Fprintln(stderr, "callgate cert:", err)
		return 2
	}
	certPEM, keyPEM, notAfter, err := selfSigned(names, ips, time.Now(), time.Duration(*days)*24*time.Hour)
	if err != nil {
		fmt.Fprintln(stderr, "callgate cert:", err)
		return 1
	}
	certPath, keyPath := filepath.Join(*out, "cert.pem"), filepath.Join(*out, "key.pem")
	if err := writePair(*out, certPath, keyPath, certPEM, keyPEM, *force); err != nil {
		fmt.Fprintln(stderr, "callgate cert:", err)
		return 1
	}
	fmt.Fprintf(stdout, `wrote %s and %s (key mode 0600): self-signed, for %s, valid until %s.
For development only: browsers warn until it is trusted. In the config:

web:
  public:
    tls: {cert_file: %s, key_file: %s}
`, certPath, keyPath, strings.Join(append(names, ipStrings(ips)...), ", "), notAfter.UTC().Format(time.RFC3339), certPath, keyPath)
	return 0
}

// certHosts splits a --host list into DNS names and IP addresses.
func certHosts(list string) ([]string, []net.IP, error) {
	var names []string
	var ips []net.IP
	for _, h := range strings.Split(list, ",") {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			continue
		case net.ParseIP(h) != nil:
			ips = append(ips, net.ParseIP(h))
		case validDNSName(h):
			names = append(names, strings.ToLower(h))
		default:
			return nil, nil, fmt.Errorf("--host: %q is neither an IP address nor a DNS name", h)
		}
	}
	if len(names) == 0 && len(ips) == 0 {
		return nil, nil, errors.New("--host: give at least one DNS name or IP address")
	}
	return names, ips, nil
}

// validDNSName reports whether s is a DNS name a certificate may hold: labels of
// letters, digits and hyphens, optionally a leading "*." wildcard.
func validDNSName(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// selfSigned makes a self-signed ECDSA P-256 server certificate for names and ips,
// valid from an hour before now for validFor, and returns it and its key (PKCS #8)
// as PEM.
func selfSigned(names []string, ips []net.IP, now time.Time, validFor time.Duration) (certPEM, keyPEM []byte, notAfter time.Time, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	cn := "callgate"
	if len(names) > 0 {
		cn = names[0]
	} else if len(ips) > 0 {
		cn = ips[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"callgate development"}},
		DNSNames:              names,
		IPAddresses:           ips,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), tmpl.NotAfter, nil
}

// writePair writes the certificate (0644) and the key (0600) into dir. Existing
// files are an error unless force; then they are replaced, the key by a new file so
// that it gets mode 0600 whatever the old one had.
func writePair(dir, certPath, keyPath string, certPEM, keyPEM []byte, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !force {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists: pass --force to replace it", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	write := func(path string, data []byte, mode os.FileMode) error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return write(certPath, certPEM, 0o644)
}

// listenerTLS is the TLS configuration of an HTTP listener serving f: TLS 1.2 at
// least, Go's default (AEAD, forward-secret) cipher suites, HTTP/2 and HTTP/1.1.
func listenerTLS(f *configs.TLSFiles) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(f.CertPEM, f.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s, key %s: %w", f.CertFile, f.KeyFile, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// newHTTPServer returns the server of one HTTP listener, with timeouts that bound
// slow clients: headers within 10 s, a whole request within 30 s, an answer within
// 60 s, idle keep-alive connections closed after 2 min. The agent websocket sets its
// own deadlines once upgraded. Errors the server logs itself (TLS handshakes of
// scanners, mostly) go to log at debug level.
func newHTTPServer(h http.Handler, tlsConf *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}
