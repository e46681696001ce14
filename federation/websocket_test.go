package federation

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A minimal RFC 6455 end on each side (handshake and single frames), so
// that the upgrade is exercised without a WebSocket dependency.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho upgrades, reads one frame and answers it prefixed with side. It
// sends the response headers the handler was given (as upgraders that
// take a response header do), so the router's labels reach the client.
func wsEcho(side string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tokenListed(r.Header["Connection"], "upgrade") || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
			r.Header.Get("Sec-Websocket-Version") != "13" || r.Header.Get("Sec-Websocket-Key") == "" {
			http.Error(w, "not a websocket upgrade", http.StatusBadRequest)
			return
		}
		hdr := w.Header().Clone()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		hdr.Set("Upgrade", "websocket")
		hdr.Set("Connection", "Upgrade")
		hdr.Set("Sec-Websocket-Accept", wsAccept(r.Header.Get("Sec-Websocket-Key")))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\n")
		_ = hdr.Write(brw)
		fmt.Fprintf(brw, "\r\n")
		if brw.Flush() != nil {
			return
		}
		op, payload, err := wsRead(brw.Reader, true)
		if err != nil {
			return
		}
		_ = wsWrite(conn, op, append([]byte(side+":"), payload...), nil)
	})
}

// wsRead reads one frame; masked says whether it must be masked (client
// to server) or must not be (server to client).
func wsRead(r *bufio.Reader, masked bool) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("fragmented frame")
	}
	if (h[1]&0x80 != 0) != masked {
		return 0, nil, fmt.Errorf("frame mask bit %v; want %v", h[1]&0x80 != 0, masked)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, p, nil
}

// wsWrite writes one final frame, masked with key when key is not nil.
func wsWrite(w io.Writer, op byte, p []byte, key []byte) error {
	b := []byte{0x80 | op}
	m := byte(0)
	if key != nil {
		m = 0x80
	}
	switch {
	case len(p) < 126:
		b = append(b, m|byte(len(p)))
	case len(p) <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	}
	if key != nil {
		b = append(b, key...)
		for i, c := range p {
			b = append(b, c^key[i%4])
		}
	} else {
		b = append(b, p...)
	}
	_, err := w.Write(b)
	return err
}

// wsEchoCall upgrades a connection to addr and sends one masked text
// frame. It returns the handshake response and, after a 101, the echoed
// text; err is the connection's error when there was no response.
func wsEchoCall(t *testing.T, addr, path string) (*http.Response, string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails the test instead of stalling it
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return resp, "", nil
	}
	if got := resp.Header.Get("Sec-Websocket-Accept"); got != wsAccept(key) {
		t.Fatalf("Sec-WebSocket-Accept = %q; want %q", got, wsAccept(key))
	}
	if err := wsWrite(conn, 1, []byte("hello"), []byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	op, p, err := wsRead(br, false)
	if err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if op != 1 {
		t.Errorf("echo opcode = %d; want 1 (text)", op)
	}
	return resp, string(p), nil
}

func TestWebSocketThroughRouter(t *testing.T) {
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + down.Addr().String()
	down.Close() // nothing listens there: the upstream is down

	for _, tc := range []struct {
		name, reality, extra string
		upstreamDown         bool
		status               int    // of the handshake
		echo                 string // "" when no upgrade
		servedBy             ServedBy
		reset                bool // the client sees a connection reset instead of an answer
		closed               bool // the client sees the connection closed without an answer
		faults               []ChaosFault
	}{
		{name: "real", reality: "real", status: 101, echo: "real:hello", servedBy: ServedByReal},
		{name: "mock", reality: "mock_v3", status: 101, echo: "mock:hello", servedBy: ServedByMock},
		{name: "latency on mock", reality: "chaos_driven", extra: "chaos: {base: mock, latency: {p: 1, fixed: 5ms}}",
			status: 101, echo: "mock:hello", servedBy: ServedByMock, faults: []ChaosFault{FaultLatency}},
		{name: "latency on real", reality: "chaos_driven", extra: "chaos: {base: real, latency: {p: 1, fixed: 5ms}}",
			status: 101, echo: "real:hello", servedBy: ServedByReal, faults: []ChaosFault{FaultLatency}},
		{name: "reset", reality: "chaos_driven", extra: "chaos: {base: real, reset: {p: 1}}", reset: true, servedBy: ServedByChaos, faults: []ChaosFault{FaultReset}},
		{name: "empty", reality: "chaos_driven", extra: "chaos: {base: mock, empty: {p: 1}}", closed: true, servedBy: ServedByChaos, faults: []ChaosFault{FaultEmpty}},
		{name: "abort", reality: "chaos_driven", extra: "chaos: {base: mock, abort: {p: 1, status: 503}}", status: 503, servedBy: ServedByChaos, faults: []ChaosFault{FaultAbort}},
		{name: "real_first falls back to the mock's upgrade", reality: "blended", extra: "blend: {strategy: real_first}",
			upstreamDown: true, status: 101, echo: "mock:hello", servedBy: ServedByMock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upstream := downURL
			if !tc.upstreamDown {
				us := httptest.NewServer(wsEcho("real"))
				t.Cleanup(us.Close)
				upstream = us.URL
			}
			f := mustParse(t, fmt.Sprintf(`
name: live
services:
  - name: chat
    base_path: /chat
    protocol: websocket
    reality: %s
    upstream: %s
    timeout: 5s
    %s
`, tc.reality, upstream, tc.extra))
			obs := make(exchangeChan, 4)
			mocks := MockResolverFunc(func(string) (http.Handler, error) { return wsEcho("mock"), nil })
			r := newTestRouter(t, f, RouterConfig{Mocks: mocks, Observer: obs})
			ts := httptest.NewServer(r)
			t.Cleanup(ts.Close)

			resp, echo, err := wsEchoCall(t, ts.Listener.Addr().String(), "/chat/room")
			switch {
			case tc.reset:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("handshake got %v, %v; want a connection reset", resp, err)
				}
			case tc.closed:
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("handshake got %v, %v; want the connection closed", resp, err)
				}
			case err != nil:
				t.Fatalf("handshake: %v", err)
			default:
				if resp.StatusCode != tc.status {
					t.Fatalf("status = %d; want %d", resp.StatusCode, tc.status)
				}
				if got := resp.Header.Get(HeaderServedBy); got != string(tc.servedBy) {
					t.Errorf("%s = %q; want %q", HeaderServedBy, got, tc.servedBy)
				}
				if echo != tc.echo {
					t.Errorf("echo = %q; want %q", echo, tc.echo)
				}
			}
			// After a hijack the server no longer tracks the handler:
			// the exchange arrives once the proxy or the mock returns.
			var x Exchange
			select {
			case x = <-obs:
			case <-time.After(10 * time.Second):
				t.Fatal("no exchange observed")
			}
			if x.ServedBy != tc.servedBy {
				t.Errorf("Exchange.ServedBy = %q; want %q", x.ServedBy, tc.servedBy)
			}
			if tc.status != 0 && x.Status != tc.status {
				t.Errorf("Exchange.Status = %d; want %d", x.Status, tc.status)
			}
			for _, f := range tc.faults {
				if !x.Faults.Has(f) {
					t.Errorf("Exchange.Faults = %v; want %v in it", x.Faults, f)
				}
			}
		})
	}
}

// exchangeChan is an Observer that hands each exchange over as it is
// observed.
type exchangeChan chan Exchange

func (c exchangeChan) Observe(x Exchange) {
	x.Request = nil // only valid during Observe
	c <- x
}
