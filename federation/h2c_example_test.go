package federation_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/mockops/mockops/federation"
)

// A host that serves gRPC through the router lets its server accept
// cleartext HTTP/2 next to HTTP/1.
func ExampleEnableH2C() {
	f, err := federation.Parse("rpc.yaml", []byte(`
name: rpc
services:
  - {name: hello, base_path: /hello, reality: mock_v3, protocol: http2}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	mocks := federation.MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello over %s", r.Proto) }), nil
	})
	router, err := federation.NewRouter(f, federation.RouterConfig{Mocks: mocks})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer router.Close()

	srv := httptest.NewUnstartedServer(router)
	federation.EnableH2C(srv.Config) // as with &http.Server{...} before ListenAndServe
	srv.Start()
	defer srv.Close()

	// A client speaking HTTP/2 with prior knowledge, as gRPC clients do.
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &h2c}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: hello over HTTP/2.0
}
