package federation

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// countingUpstream answers how many body bytes it read.
func countingUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// slowBody sends chunks of size bytes, gap apart, then ends; with
// stallAfter > 0 it stops sending after that many chunks until closed.
func slowBody(chunks, size int, gap time.Duration, stallAfter int) (io.ReadCloser, func()) {
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, size)
		for i := range chunks {
			if stallAfter > 0 && i == stallAfter {
				<-stop
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			select {
			case <-stop:
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			case <-time.After(gap):
			}
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		pw.Close()
	}()
	var once sync.Once
	return pr, func() { once.Do(func() { close(stop) }); <-done }
}

// A client uploading more slowly than the service timeout, to a healthy
// upstream, gets the upstream's answer: the answer deadline starts once
// the body has been sent.
func TestSlowUploadIsNotAnUpstreamTimeout(t *testing.T) {
	up := countingUpstream(t)
	f := mustParse(t, fmt.Sprintf("name: up\nservices: [{name: up, base_path: /, reality: real, upstream: %q, timeout: 400ms}]\n", up.URL))
	obs := make(chanObserver, 1)
	srv := front(t, newTestRouter(t, f, RouterConfig{Observer: obs}))
	const chunks, size, gap = 6, 1024, 150 * time.Millisecond // 900ms in all, over twice the timeout
	body, stop := slowBody(chunks, size, gap, 0)
	defer stop()
	req, _ := http.NewRequest("POST", srv.URL+"/upload", body)
	start := time.Now()
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != strconv.Itoa(chunks*size) {
		t.Fatalf("slow upload = %d %q after %v; want 200 %d", resp.StatusCode, got, time.Since(start), chunks*size)
	}
	if elapsed := time.Since(start); elapsed < 400*time.Millisecond {
		t.Fatalf("the upload took %v: not slower than the timeout, the test proves nothing", elapsed)
	}
	// A streamed response can reach the client an instant before its
	// exchange is observed.
	select {
	case x := <-obs:
		if x.Err != nil || x.RequestBytes != chunks*size {
			t.Errorf("observed %+v; want a clean exchange of %d request bytes", x, chunks*size)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange was never observed")
	}
}

// A client that stops sending its body is cut after UploadIdleTimeout
// with a 408 problem from the router, not reported as an upstream failure.
func TestStalledUploadIsRequestTimeout(t *testing.T) {
	up := countingUpstream(t)
	f := mustParse(t, fmt.Sprintf("name: up\nservices: [{name: up, base_path: /, reality: real, upstream: %q, timeout: 10s}]\n", up.URL))
	obs := &exchanges{}
	logs := &logRecorder{}
	cfg := RouterConfig{Observer: obs, UploadIdleTimeout: 200 * time.Millisecond}
	cfg.Logger = slog.New(logs)
	srv := front(t, newTestRouter(t, f, cfg))
	body, stop := slowBody(10, 1024, 10*time.Millisecond, 2)
	defer stop()
	req, _ := http.NewRequest("POST", srv.URL+"/upload", body)
	client := newClient(t)
	client.Timeout = 5 * time.Second
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("stalled upload: %v; want a 408 answer", err)
	}
	p := readProblem(t, resp, http.StatusRequestTimeout)
	if p["service"] != "up" || resp.Header.Get(HeaderServedBy) != string(ServedByRouter) {
		t.Errorf("problem %v served by %q; want service up, router", p, resp.Header.Get(HeaderServedBy))
	}
	stop()
	xs := obs.all()
	if len(xs) != 1 || xs[0].Status != http.StatusRequestTimeout || xs[0].ServedBy != ServedByRouter || xs[0].Err == nil {
		t.Errorf("observed %+v; want one 408 exchange served by the router, with an error", xs)
	}
	if n := logs.atLeast(slog.LevelWarn); n != 0 {
		t.Errorf("%d warnings logged; a stalled client is not an upstream failure", n)
	}
}

// An upstream that never takes the body is still bounded by the service
// timeout (504), and so is one that takes it and never answers.
func TestUpstreamThatStallsIsGatewayTimeout(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			io.Copy(io.Discard, r.Body)
		}
		<-release // neither reads (on /hold) nor answers
	}))
	defer up.Close()
	defer close(release)
	f := mustParse(t, fmt.Sprintf("name: up\nservices: [{name: up, base_path: /, reality: real, upstream: %q, timeout: 300ms}]\n", up.URL))
	srv := front(t, newTestRouter(t, f, RouterConfig{}))
	for _, path := range []string{"/hold", "/read"} {
		// Larger than the socket buffers, so an upstream that does not
		// read blocks the transport's write.
		body, stop := slowBody(64, 256<<10, 0, 0)
		req, _ := http.NewRequest("POST", srv.URL+path, body)
		client := newClient(t)
		client.Timeout = 10 * time.Second
		resp, err := client.Do(req)
		stop()
		if err != nil {
			t.Fatalf("%s: %v; want a 504 answer", path, err)
		}
		readProblem(t, resp, http.StatusGatewayTimeout)
	}
}
