// Command quickstart is the README's main command: the whole MockOps loop
// in one process, on the embedded defaults.
//
//	go run ./examples/quickstart          # serve until Ctrl-C
//	go run ./examples/quickstart -demo    # drive traffic through it, print a report, exit
//
// It starts a real upstream on loopback and, on one server:
//
//   - the federation "shop" (federations/shop.yaml) through a
//     federation.Registry: users (real), catalog (mock_v3), orders
//     (blended: mock and real side by side) and payments (mock_v3, with a
//     payments-outage scenario that switches chaos on);
//   - the coverage collector as the federation's Observer: endpoint
//     coverage against specs/*.yaml, and drift from the blended service's
//     comparisons, which raises drift.threshold_exceeded past its budget;
//   - the pipeline engine, with the definitions of pipelines/*.yaml (one
//     in MockForge's format): drift-to-pr notifies a webhook (signed) and
//     opens a pull request;
//   - the admin APIs under /api/v2 (pipelines, executions, federations,
//     coverage), the pipeline and federation pages under /ui and the coverage dashboard
//     at /coverage;
//   - stand-ins for the team's webhook receiver (/demo/webhook) and for
//     GitHub (/demo/github), so the loop closes without an account.
//
// Everything is kept in SQLite under the -data directory: by default
// ./mockops-data when serving (so a restart keeps its state), and a fresh
// temporary directory, removed at exit, with -demo (so the demo always
// starts clean and its drift crossing is raised; pass -data to keep it).
//
// Changes through the admin APIs are allowed from loopback only, and not
// when a browser sends them from another site (see localAuthorizer): the
// quickstart is a local, single-user program.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/mockops/mockops/store/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "quickstart:", err)
		}
		os.Exit(1)
	}
}

// run is the whole program, so that its test can drive it in-process.
func run(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	addr := fl.String("addr", "127.0.0.1:8080", "address to listen on (the demo uses any free loopback port)")
	data := fl.String("data", "", "directory for the SQLite database (default ./mockops-data; with -demo a temporary one)")
	demo := fl.Bool("demo", false, "drive traffic and events through the platform, print a report and exit")
	verbose := fl.Bool("v", false, "write the platform's log records to stderr")
	if err := fl.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	addrSet := false
	fl.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	if *demo && !addrSet {
		*addr = "127.0.0.1:0" // the demo talks to itself: any free port
	}
	dir, fresh := *data, false
	switch {
	case dir == "" && *demo:
		tmp, err := os.MkdirTemp("", "mockops-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir, fresh = tmp, true
	case dir == "":
		dir = "mockops-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "mockops.db")); errors.Is(err, os.ErrNotExist) {
		fresh = true
	}
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "mockops.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	p, err := startPlatform(ctx, platformConfig{Store: st, Addr: *addr, DriftBudget: 10, Logger: logger})
	if err != nil {
		return err
	}
	var runErr error
	if *demo {
		runErr = runDemo(ctx, p, st, fresh, out)
	} else {
		printWelcome(out, p.url, dir)
		<-ctx.Done()
		fmt.Fprintln(out, "shutting down")
	}
	// Shut down gracefully, bounded: a part that does not stop in time is
	// reported, not waited for forever.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(runErr, p.shutdown(sctx))
}

func printWelcome(out io.Writer, url, dir string) {
	fmt.Fprintf(out, `MockOps quickstart, data in %s

  federation shop   %[2]s/users/7 (real)  %[2]s/catalog/sku-1 (mock)  %[2]s/orders/42 (blended)  %[2]s/payments/p-1 (mock)
  pipeline pages    %[2]s/ui/pipelines
  federation pages  %[2]s/ui/federations
  coverage          %[2]s/coverage
  admin API         %[2]s/api/v2/{pipelines,executions,federations,coverage/...}

Try:
  curl -i %[2]s/orders/42
  curl -X POST %[2]s/api/v2/federations/shop/scenarios/payments-outage/activate
  curl -i %[2]s/payments/p-1
  curl -X POST %[2]s/api/v2/federations/shop/scenarios/deactivate
  curl %[2]s/api/v2/coverage/drift
  curl %[2]s/api/v2/executions

Ctrl-C stops it.
`, dir, url)
}
