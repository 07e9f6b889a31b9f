package mpnats_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/mpnats"
	mp "github.com/mpgen/mpgen/runtime"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// certs are the PEM files of a test PKI: a CA, the server's certificate
// for 127.0.0.1, and a client's certificate, all signed by the CA.
type certs struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// writeCerts makes a test PKI in t's temporary directory.
func writeCerts(t *testing.T) certs {
	t.Helper()
	dir := t.TempDir()
	write := func(name, kind string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
		}
	}
	caKey := key()
	caTmpl := template("mpnats test CA")
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(name string, tmpl *x509.Certificate) (certFile, keyFile string) {
		k := key()
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "PRIVATE KEY", kder)
	}
	c := certs{ca: write("ca.pem", "CERTIFICATE", caDER)}
	st := template("127.0.0.1")
	st.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	st.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	c.serverCert, c.serverKey = leaf("server", st)
	ct := template("mpnats test client")
	ct.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	c.clientCert, c.clientKey = leaf("client", ct)
	return c
}

// runTLSServer runs a server that requires TLS with c's server
// certificate and, with verify, a client certificate signed by c's CA.
func runTLSServer(t *testing.T, c certs, verify bool) *server.Server {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: c.serverCert,
		KeyFile:  c.serverKey,
		CaFile:   c.ca,
		Verify:   verify,
	})
	if err != nil {
		t.Fatal(err)
	}
	return runServer(t, func(o *server.Options) {
		o.TLS = true
		o.TLSVerify = verify
		o.TLSConfig = tc
		o.TLSTimeout = 5
	})
}

// addThrough runs Add(2, 3) on a worker of app, served and dialled
// through connections made by ConnectFromEnv as the environment is now.
func addThrough(t *testing.T, s *server.Server, app string, opts ...mpnats.Option) {
	t.Helper()
	serveHere(t, s, app, opts...)
	pool := dial(t, s, app, opts...)
	if got, err := mp.Submit[int](context.Background(), pool, targets.Add, 2, 3).Get(); err != nil || got != 5 {
		t.Fatalf("Add(2, 3) = %v, %v", got, err)
	}
}

// connectErr is ConnectFromEnv's error for app on s, which must fail.
func connectErr(t *testing.T, s *server.Server, app string) error {
	t.Helper()
	t.Setenv("NATS_URL", s.ClientURL())
	nc, err := mpnats.ConnectFromEnv(app, nats.Timeout(5*time.Second))
	if err == nil {
		nc.Close()
		t.Fatal("ConnectFromEnv succeeded")
	}
	return err
}

// A server that requires TLS is reached with NATS_CA (and, for mutual
// TLS, NATS_CERT and NATS_KEY); without them the connection fails and
// says why.
func TestTLS(t *testing.T) {
	c := writeCerts(t)
	t.Run("server", func(t *testing.T) {
		s := runTLSServer(t, c, false)
		if !strings.HasPrefix(s.ClientURL(), "tls://") {
			t.Fatalf("ClientURL %s: want tls://", s.ClientURL())
		}
		t.Setenv("NATS_CA", c.ca)
		addThrough(t, s, "tls")

		t.Setenv("NATS_CERT", c.clientCert)
		err := connectErr(t, s, "tls")
		if !strings.Contains(err.Error(), "needs both NATS_CERT and NATS_KEY") {
			t.Errorf("NATS_CERT without NATS_KEY: %v, want ConnectFromEnv's own error", err)
		}
		t.Setenv("NATS_CERT", "")

		t.Setenv("NATS_CA", "")
		err = connectErr(t, s, "tls")
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("without NATS_CA: %v, want an x509.UnknownAuthorityError", err)
		}
	})
	t.Run("mutual", func(t *testing.T) {
		s := runTLSServer(t, c, true)
		t.Setenv("NATS_CA", c.ca)
		t.Setenv("NATS_CERT", c.clientCert)
		t.Setenv("NATS_KEY", c.clientKey)
		addThrough(t, s, "mtls", mpnats.Durable(true))

		t.Setenv("NATS_CERT", "")
		t.Setenv("NATS_KEY", "")
		// With TLS 1.3 the server refuses the client after the client's side
		// of the handshake: its alert or the closed connection ends it.
		err := connectErr(t, s, "mtls")
		if !strings.Contains(err.Error(), "tls: certificate required") && !errors.Is(err, nats.ErrTLS) {
			t.Errorf("without a client certificate: %v, want the server's TLS alert or nats.ErrTLS", err)
		}
	})
}

// appPerms are the permissions of a worker and a caller of app, as the
// package documentation lists them.
func appPerms(app string) (worker, caller *server.Permissions) {
	stream := "MP_" + strings.ToUpper(strings.ReplaceAll(app, "-", "_"))
	objs := "OBJ_mp_" + app + "_objs"
	bodies := []string{
		"$O.mp_" + app + "_objs.>",
		"$JS.FC." + objs + ".>",
		"$JS.API.DIRECT.GET." + objs + ".>",
		"$JS.API.STREAM.CREATE." + objs,
		"$JS.API.STREAM.UPDATE." + objs,
		"$JS.API.STREAM.PURGE." + objs,
		"$JS.API.CONSUMER.CREATE." + objs + ".>",
		"$JS.API.CONSUMER.DELETE." + objs + ".>",
	}
	worker = &server.Permissions{
		Subscribe: &server.SubjectPermission{Allow: []string{
			"mp.v1." + app + ".>", "_INBOX_mp_" + app + ".>",
			"$SRV.*", "$SRV.*.mp-" + app, "$SRV.*.mp-" + app + ".*",
		}},
		Publish: &server.SubjectPermission{Allow: append([]string{
			"_INBOX_mp_" + app + ".>",
			"$JS.API.STREAM.CREATE." + stream, "$JS.API.STREAM.UPDATE." + stream,
			"$JS.API.CONSUMER.CREATE." + stream + ".workers",
			"$JS.API.CONSUMER.MSG.NEXT." + stream + ".workers", "$JS.ACK." + stream + ".workers.>",
		}, bodies...)},
	}
	caller = &server.Permissions{
		Subscribe: &server.SubjectPermission{Allow: []string{
			"_INBOX_mp_" + app + ".>",
			"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + ".workers",
		}},
		Publish: &server.SubjectPermission{Allow: append([]string{
			"mp.v1." + app + ".>", "$SRV.INFO.mp-" + app,
			"mpq.v1." + app + ".>", "$JS.API.STREAM.INFO." + stream, "$JS.API.STREAM.MSG.DELETE." + stream,
		}, bodies...)},
	}
	return worker, caller
}

// asUser sets NATS_USER and NATS_PASSWORD.
func asUser(t *testing.T, user, password string) {
	t.Setenv("NATS_USER", user)
	t.Setenv("NATS_PASSWORD", password)
}

// asyncErrs gathers the asynchronous errors of connections, permission
// violations among them, which nats.go otherwise only prints.
type asyncErrs struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrs) handle(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err)
	a.mu.Unlock()
}

func (a *asyncErrs) option() nats.Option { return nats.ErrorHandler(a.handle) }

func (a *asyncErrs) take() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	errs := a.errs
	a.errs = nil
	return errs
}

// Users with the documented permissions of their app run its direct and
// durable calls, bodies over max_payload and cancels of queued calls,
// and nothing of another app.
func TestUserPermissions(t *testing.T) {
	users := []*server.User{{Username: "admin", Password: "admin"}}
	for _, app := range []string{"a", "b"} {
		w, c := appPerms(app)
		users = append(users,
			&server.User{Username: app + "-worker", Password: "w-secret", Permissions: w},
			&server.User{Username: app + "-caller", Password: "c-secret", Permissions: c})
	}
	const maxPayload = 256 << 10 // the object store's chunks are 128 KiB: it needs more
	s := runServer(t, func(o *server.Options) {
		o.Users = users
		o.MaxPayload = maxPayload
	})
	ctx := context.Background()
	var watch asyncErrs

	asUser(t, "a-worker", "w-secret")
	serveOn(t, connect(t, s, "a", watch.option()), "a", mpnats.Durable(true), mpnats.Slots(2))
	asUser(t, "b-worker", "w-secret")
	serveHere(t, s, "b")

	asUser(t, "a-caller", "c-secret")
	big := strings.Repeat("x", 8*maxPayload) // enough that fetching it is flow-controlled ($JS.FC)
	pools := map[bool]*mp.Pool{}
	for _, durable := range []bool{false, true} {
		pool := dialOn(t, connect(t, s, "a", watch.option()), "a", mpnats.Durable(durable))
		pools[durable] = pool
		if got, err := mp.Submit[int](ctx, pool, targets.Add, 2, 3).Get(); err != nil || got != 5 {
			t.Fatalf("Durable(%t): Add(2, 3) = %v, %v (async errors: %v)", durable, got, err, watch.take())
		}
		if got, err := mp.Submit[string](ctx, pool, targets.Echo, big).Get(); err != nil || got != big {
			t.Fatalf("Durable(%t): Echo of %d bytes: %d bytes, %v (async errors: %v)", durable, len(big), len(got), err, watch.take())
		}
	}

	// A durable call cancelled while it waits in the queue is taken out of
	// it (the caller deletes it from the stream).
	asUser(t, "admin", "admin")
	js, err := jetstream.New(connect(t, s, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	queued := func(want uint64) bool {
		st, err := js.Stream(ctx, "MP_A")
		if err != nil {
			return false
		}
		return st.CachedInfo().State.Msgs == want
	}
	if !targets.Eventually(10*time.Second, func() bool { return queued(0) }) {
		t.Fatal("the work queue is not empty after the calls above")
	}
	// Two sleepers fill the worker's two durable slots; a second pool's call
	// waits in the stream until it is cancelled.
	sleepCtx, wake := context.WithCancel(ctx)
	defer wake()
	var sleepers []*mp.Future[any]
	for range 2 {
		sleepers = append(sleepers, pools[true].ApplyAsync(sleepCtx, targets.Sleep, []any{time.Minute}, nil))
	}
	if !targets.Eventually(10*time.Second, func() bool { return queued(2) }) {
		t.Fatal("the sleepers are not in the work queue")
	}
	asUser(t, "a-caller", "c-secret")
	other := dialOn(t, connect(t, s, "a", watch.option()), "a", mpnats.Durable(true))
	addCtx, cancelAdd := context.WithCancel(ctx)
	add := mp.Submit[int](addCtx, other, targets.Add, 1, 1)
	if !targets.Eventually(10*time.Second, func() bool { return queued(3) }) {
		t.Fatal("the queued call is not in the work queue")
	}
	cancelAdd()
	if _, err := add.Get(); !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled queued call: %v, want context.Canceled", err)
	}
	if !targets.Eventually(10*time.Second, func() bool { return queued(2) }) {
		t.Error("the cancelled call is still in the work queue")
	}
	wake()
	for _, f := range sleepers {
		if _, err := f.Get(); !errors.Is(err, context.Canceled) {
			t.Errorf("a woken sleeper: %v, want context.Canceled", err)
		}
	}
	if !targets.Eventually(10*time.Second, func() bool { return queued(0) }) {
		t.Error("the work queue is not empty after the sleepers")
	}
	for _, err := range watch.take() {
		t.Errorf("async error on a connection of app a: %v", err)
	}

	asUser(t, "a-caller", "wrong")
	if err := connectErr(t, s, "a"); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a wrong password: %v, want nats.ErrAuthorization", err)
	}

	// a's caller may not call b's workers: the server drops the call and
	// says so on the connection, and the call fails at once with that.
	asUser(t, "a-caller", "c-secret")
	for _, durable := range []bool{false, true} {
		var denied asyncErrs
		nc := connect(t, s, "a", denied.option())
		pool := dialOn(t, nc, "b", mpnats.Durable(durable))
		_, err := mp.Submit[int](ctx, pool, targets.Add, 2, 3).Get()
		var te *mpnats.TransportError
		if !errors.As(err, &te) || !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), `Publish to "mp`) {
			t.Errorf("Durable(%t): a's caller calling b: %v, want a *TransportError for nats.ErrPermissionViolation of the call's subject", durable, err)
			continue
		}
		// The connection's own error handler has heard of it too.
		errs := denied.take()
		if !slices.ContainsFunc(errs, func(e error) bool {
			return errors.Is(e, nats.ErrPermissionViolation) && strings.Contains(e.Error(), te.Err.Error())
		}) {
			t.Errorf("Durable(%t): the connection's error handler got %v, want the call's permissions violation", durable, errs)
		}
		// Once the pool has ended, the connection has its own handler back.
		pool.Close()
		if err := pool.JoinTimeout(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if h := nc.ErrorHandler(); h == nil || reflect.ValueOf(h).Pointer() != reflect.ValueOf(denied.handle).Pointer() {
			t.Errorf("Durable(%t): the connection's error handler is not its own after the pool ended", durable)
		}
	}
}

// writeFile writes data to name in t's temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newUser makes a user NKey and writes its seed to a file.
func newUser(t *testing.T) (kp nkeys.KeyPair, pub, seedFile string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	if pub, err = kp.PublicKey(); err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub, writeFile(t, "user.nk", seed)
}

// An NKey user connects with NATS_NKEY, the file of its seed.
func TestNKey(t *testing.T) {
	_, pub, seed := newUser(t)
	_, _, stranger := newUser(t)
	s := runServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })

	t.Setenv("NATS_NKEY", seed)
	addThrough(t, s, "nk")

	t.Setenv("NATS_NKEY", stranger)
	if err := connectErr(t, s, "nk"); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("an unknown NKey: %v, want nats.ErrAuthorization", err)
	}
	t.Setenv("NATS_NKEY", writeFile(t, "garbage.nk", []byte("not a seed\n")))
	if err := connectErr(t, s, "nk"); !strings.HasPrefix(err.Error(), "mpnats: NATS_NKEY: ") {
		t.Errorf("a file that holds no seed: %v, want ConnectFromEnv's NATS_NKEY error", err)
	}
	t.Setenv("NATS_NKEY", filepath.Join(t.TempDir(), "missing.nk"))
	if err := connectErr(t, s, "nk"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing seed file: %v, want os.ErrNotExist in its chain", err)
	}
}

// jwtPerms are p as a user JWT's permissions.
func jwtPerms(p *server.Permissions) jwt.Permissions {
	var j jwt.Permissions
	j.Pub.Allow.Add(p.Publish.Allow...)
	j.Sub.Allow.Add(p.Subscribe.Allow...)
	return j
}

// Users of an operator's account connect with NATS_CREDS, their
// credentials file; their JWTs carry the documented permissions of their
// app.
func TestCreds(t *testing.T) {
	op, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := op.PublicKey()
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	operator, err := jwt.DecodeOperatorClaims(opJWT)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	account := func(js bool) (nkeys.KeyPair, string) {
		kp, err := nkeys.CreateAccount()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		token, err := ac.Encode(op)
		if err != nil {
			t.Fatal(err)
		}
		if err := resolver.Store(pub, token); err != nil {
			t.Fatal(err)
		}
		return kp, pub
	}
	_, sysPub := account(false)
	acc, _ := account(true)
	stranger, err := nkeys.CreateAccount() // with no JWT the server knows
	if err != nil {
		t.Fatal(err)
	}
	creds := func(name string, p *server.Permissions) string {
		kp, pub, _ := newUser(t)
		uc := jwt.NewUserClaims(pub)
		uc.Name = name
		uc.Permissions = jwtPerms(p)
		token, err := uc.Encode(acc)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		data, err := jwt.FormatUserConfig(token, seed)
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, name+".creds", data)
	}
	s := runServer(t, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{operator}
		o.AccountResolver = resolver
		o.SystemAccount = sysPub
	})
	w, c := appPerms("a")
	t.Setenv("NATS_CREDS", creds("a-worker", w))
	serveHere(t, s, "a", mpnats.Durable(true))
	t.Setenv("NATS_CREDS", creds("a-caller", c))
	for _, durable := range []bool{false, true} {
		pool := dial(t, s, "a", mpnats.Durable(durable))
		if got, err := mp.Submit[int](context.Background(), pool, targets.Add, 2, 3).Get(); err != nil || got != 5 {
			t.Fatalf("Durable(%t): Add(2, 3) = %v, %v", durable, got, err)
		}
	}

	t.Setenv("NATS_CREDS", filepath.Join(t.TempDir(), "missing.creds"))
	if err := connectErr(t, s, "a"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing credentials file: %v, want os.ErrNotExist in its chain", err)
	}
	t.Setenv("NATS_CREDS", writeFile(t, "garbage.creds", []byte("not credentials\n")))
	if err := connectErr(t, s, "a"); !errors.Is(err, nkeys.ErrNoSeedFound) {
		t.Errorf("a file that holds no credentials: %v, want nkeys.ErrNoSeedFound in its chain", err)
	}
	acc = stranger
	t.Setenv("NATS_CREDS", creds("stranger", c))
	if err := connectErr(t, s, "a"); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("credentials of an account the server does not know: %v, want nats.ErrAuthorization", err)
	}
}
