package mpnats

import (
	"fmt"
	"os"
	"strconv"

	"github.com/nats-io/nats.go"
)

// ConnectFromEnv connects to NATS for app as the environment says, for
// callers and workers alike:
//
//	NATS_URL                  server URLs, comma-separated (default nats://127.0.0.1:4222)
//	NATS_CREDS                a credentials file (JWT and NKey seed): production
//	NATS_NKEY                 an NKey seed file
//	NATS_USER, NATS_PASSWORD  user and password
//	NATS_CA                   the CA file that signed the server's certificate (TLS)
//	NATS_CERT, NATS_KEY       this client's certificate and key (mutual TLS)
//
// It names the connection mp-<app>-<pid> and puts its reply subjects
// under _INBOX_mp_<app>, so that permissions can be given per app (see
// the package documentation). opts come after these and may override
// them.
func ConnectFromEnv(app string, opts ...nats.Option) (*nats.Conn, error) {
	if _, err := namesOf(app); err != nil {
		return nil, err
	}
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	o := []nats.Option{
		nats.Name("mp-" + app + "-" + strconv.Itoa(os.Getpid())),
		nats.CustomInboxPrefix("_INBOX_mp_" + app),
	}
	if f := os.Getenv("NATS_CREDS"); f != "" {
		o = append(o, nats.UserCredentials(f))
	}
	if f := os.Getenv("NATS_NKEY"); f != "" {
		opt, err := nats.NkeyOptionFromSeed(f)
		if err != nil {
			return nil, fmt.Errorf("mpnats: NATS_NKEY: %w", err)
		}
		o = append(o, opt)
	}
	if u := os.Getenv("NATS_USER"); u != "" {
		o = append(o, nats.UserInfo(u, os.Getenv("NATS_PASSWORD")))
	}
	if f := os.Getenv("NATS_CA"); f != "" {
		o = append(o, nats.RootCAs(f))
	}
	if c, k := os.Getenv("NATS_CERT"), os.Getenv("NATS_KEY"); c != "" || k != "" {
		if c == "" || k == "" {
			return nil, fmt.Errorf("mpnats: mutual TLS needs both NATS_CERT and NATS_KEY")
		}
		o = append(o, nats.ClientCert(c, k))
	}
	nc, err := nats.Connect(url, append(o, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("mpnats: connect to %s: %w", url, err)
	}
	return nc, nil
}
