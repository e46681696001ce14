package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mockops/mockops/federation"
)

// shop is a small virtual system: a real users service, which the
// quickstart starts on loopback, and an orders service served by a mock
// workspace, behind one router.
type shop struct {
	router   *federation.Router
	url      string
	shutdown func(ctx context.Context) error
}

func startShop(ctx context.Context, src []byte) (*shop, error) {
	users, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"name":"Ada","source":"real users service"}`, strings.TrimPrefix(r.URL.Path, "/users/"))
	}))
	if err != nil {
		return nil, err
	}
	// The definition names its upstream through an environment-style
	// placeholder, so the same file works wherever the upstream listens.
	spec := []byte(os.Expand(string(src), func(k string) string {
		if k == "USERS_UPSTREAM" {
			return users.url
		}
		return "$" + k
	}))
	fed, err := federation.Parse("shop.yaml", spec)
	if err != nil {
		users.shutdown(ctx)
		return nil, err
	}
	mocks := federation.MockResolverFunc(func(ws string) (http.Handler, error) {
		if ws != "orders-ws" {
			return nil, fmt.Errorf("no mock workspace %q", ws)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"order":%q,"status":"shipped","source":"mock workspace orders-ws"}`, strings.TrimPrefix(r.URL.Path, "/orders/"))
		}), nil
	})
	router, err := federation.NewRouter(fed, federation.RouterConfig{Mocks: mocks})
	if err != nil {
		users.shutdown(ctx)
		return nil, err
	}
	front, err := serve(router)
	if err != nil {
		router.Close()
		users.shutdown(ctx)
		return nil, err
	}
	return &shop{
		router: router,
		url:    front.url,
		shutdown: func(ctx context.Context) error {
			err := errors.Join(front.shutdown(ctx), users.shutdown(ctx))
			router.Close()
			return err
		},
	}, nil
}

// visit sends one request through the federation and prints who served it.
func (s *shop) visit(ctx context.Context, client *http.Client, path string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "federation GET %s -> %d served by %s: %s\n", path, resp.StatusCode,
		resp.Header.Get(federation.HeaderServedBy), strings.TrimSpace(string(body)))
	return nil
}

type server struct {
	url      string
	shutdown func(ctx context.Context) error
}

// serve runs h on a loopback port until shutdown.
func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return &server{
		url: "http://" + ln.Addr().String(),
		shutdown: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
			return err
		},
	}, nil
}
