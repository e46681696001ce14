// Package federation makes one http.Handler the single entry point of a
// virtual system made of many services. Each service owns a path prefix
// (optionally on one host) and is served at its reality level: by its real
// upstream, by a mock workspace of the host application, with chaos
// injected on top of either, and later by a blend of both.
//
// # Configuration
//
// A federation is YAML, read by Parse:
//
//	name: shop
//	services:
//	  - name: auth
//	    base_path: /auth
//	    workspace: auth-ws
//	    reality: real                 # real | mock_v3 | blended | chaos_driven
//	    upstream: http://127.0.0.1:9001
//	    timeout: 2s                   # each wait on the upstream (default 30s)
//	    strip_prefix: true            # forward /auth/x as /x (default: forward whole)
//	    preserve_host: false          # send the client's Host upstream
//	    host: api.example.com         # optional: route only this host
//	    protocol: http                # http | http2 | grpc | websocket (see Protocols)
//	  - name: orders
//	    base_path: /orders
//	    reality: mock_v3              # workspace defaults to the service name
//	    depends_on: [auth]
//
// Parse reports every problem at once, each with its file:line:col, as an
// ErrorList of this package's Error (Pos, Path, Msg); Validate does the
// same for a federation built in Go, whose values have no position, so
// each diagnostic names its value by path instead
// ("services[orders].timeout: ..."). A group of services that depend on
// each other is reported once, in a bounded message. A source larger than
// MaxSourceSize (1 MiB) is refused before it is decoded. MockForge's format is accepted unchanged (a top-level
// `federation:` wrapper, `workspace_id`, `reality_level` in any case with
// the aliases mockv3 and chaosdriven, `dependencies`, and
// `config.upstream_url`; other `config` keys are kept in Service.Config).
// The `blend`, `chaos` and `scenarios` blocks are parsed and validated.
// The four blended strategies are served (see Blended strategies) and so
// are chaos faults (see Chaos); scenarios are switched by
// Router.ActivateScenario (see Scenarios).
//
// # Blended strategies
//
// Every blended response says who served it in X-Mockops-Served-By.
//
//   - mock_first asks the mock. A response carrying Blend.MissHeader
//     (default X-Mockops-Mock-Miss, any value) or one of Blend.MissStatus
//     is a miss: the decision is taken on the mock's status, before any of
//     its headers or body reach the client, so a miss leaves nothing on the
//     wire and a hit streams unbuffered. On a miss the request goes to the
//     upstream with the body replayed: what the mock read (kept up to
//     Blend.MaxBody, default 1 MiB) followed by what it left unread. A mock
//     that read more than MaxBody and missed cannot be replayed: 502, and
//     Exchange.Err wraps ErrBodyNotReplayable. A mock_first mock cannot
//     hijack the connection.
//
//   - real_first (the default strategy) proxies to the upstream. On a
//     transport error, the service timeout or one of Blend.FallbackStatus,
//     the mock serves instead; the decision comes before the upstream's
//     answer reaches the client. The request body is read first, up to
//     MaxBody, so the mock gets it too; a larger body streams to the
//     upstream and rules the fallback out (the upstream's answer or error
//     is served, and Exchange.Err wraps ErrBodyNotReplayable). A client
//     that stalls its upload (408) or goes away gets no mock. With
//     Blend.CompareSample, that share of the requests the upstream answered
//     also asks the mock in the background, as a shadow call does, to
//     compare the two.
//
//   - merge, for the safe methods (GET, HEAD, OPTIONS) unless
//     Blend.MergeMethods says otherwise (other methods are served
//     real_first), asks the mock and the upstream at once under one
//     deadline, the service timeout, and waits for both (an in-process
//     mock is expected to honour its request's context). Two 2xx JSON
//     objects are merged per RFC 7386, the upstream's members winning
//     unless Blend.Prefer is "mock"; gzip bodies are decoded first and the
//     merged body goes out unencoded (X-Mockops-Served-By: mock+real). When
//     one side fails (error, timeout, a body over MaxBody) the other is
//     served with X-Mockops-Merge: partial; missing=<side>; two answers that
//     cannot be merged (non-JSON, non-object, non-2xx) give the preferred
//     side's answer with X-Mockops-Merge: unmerged. A request body over
//     MaxBody is refused with 413.
//
//   - shadow serves the primary (the upstream, or the mock when
//     Blend.Primary is "mock") and then, when Blend.Sample draws it, asks
//     the secondary the same request on a goroutine the Router owns, with
//     a context detached from the client's and bounded by the service
//     timeout. At most RouterConfig.MaxShadows (default 64) run at once;
//     past that the call is dropped and counted (Router.ShadowStats). A
//     real secondary is asked only for the safe methods; a request body
//     over MaxBody, or a failed primary, is not shadowed (counted as
//     skipped). Router.Shutdown stops starting shadows, waits for those
//     running and closes the Router.
//
// # Drift
//
// Compare is the mock/real comparison: status, Content-Type (media type),
// Location and chosen headers, and the JSON bodies, deterministic
// (members in name order) and bounded (each body capped, the differences
// too). Noise is left out: headers not chosen (Date, request ids), members
// named like request ids and timestamps, two RFC 3339 times, Blend.Ignore's
// JSON paths ("$.items[*].updated") and headers; arrays are compared by
// shape (types and member names, pairwise) unless configured. Whenever a
// request had both answers (merge, shadow, sampled real_first) the Comparison is in
// Exchange.Comparison for the Observer (for shadow, in the shadow call's
// own Exchange, Shadow set, observed on the shadow's goroutine), and those
// that found differences are kept, the last RecentDiffs per service, for
// Router.RecentDiffs.
//
// # Editor support
//
// JSONSchema returns a JSON Schema (draft 2020-12, kept in
// schema/federation.schema.json) of both formats: every key with a
// description, enums for reality levels, blend strategies, chaos bases
// and protocols, and patterns for names, paths and durations. An editor
// running yaml-language-server (VS Code's YAML extension, Neovim,
// JetBrains) completes and checks a file that names the schema on its
// first line, by URL or by a path relative to the file:
//
//	# yaml-language-server: $schema=https://raw.githubusercontent.com/mockops/mockops/main/federation/schema/federation.schema.json
//	name: shop
//
// A host can serve JSONSchema() itself (as application/schema+json) and
// point the line at its own URL. The schema checks structure only:
// dependencies, routes, upstream URLs and what a protocol can carry are
// Parse's.
//
// # Routing
//
// NewRouter(f, RouterConfig{Mocks: resolver}) returns the Router, an
// http.Handler to mount on the host's server (see ExampleNewRouter).
// A Router matches the longest base path on segment boundaries: "/auth"
// matches "/auth", "/auth/" and "/auth/x", never "/authz". The request path
// is cleaned first: percent-escapes are decoded for matching, except that
// an encoded slash ("%2F") stays data inside its segment; "." and ".."
// segments are resolved and empty ones dropped, so "/api/../admin" is
// routed, and forwarded, as "/admin" and no path can reach a service whose
// prefix it does not have. The forwarded path keeps the client's own
// escaping. The Router never redirects. A service with a host wins over a
// host-less one for requests to that host (case-insensitive, port
// ignored). Requests no route matches get a 404 problem, or go to
// RouterConfig.FallbackHandler; so does a tunnel request ("CONNECT
// host:port"), which names no path at all.
//
// Routes live in an immutable snapshot (a radix tree per host), swapped
// atomically by Update. Lookup answers a dry run; on a clean path it
// allocates nothing. Handlers find the Route of their request with
// RouteFrom.
//
// # Reality levels
//
// real: an httputil.ReverseProxy per service, built once per snapshot,
// with one tuned transport per upstream origin shared across snapshots
// (pruned once no snapshot, current or still serving requests, uses it).
// It sets X-Forwarded-For/-Host/-Proto (the client's values are dropped
// unless TrustForwardedFor), X-Forwarded-Prefix when the prefix is
// stripped, and removes hop-by-hop and Connection-listed headers before
// setting its own, so a client cannot strip them. Bodies stream both ways
// (every write is flushed, uploads are never buffered), client encodings
// pass untouched (the transport neither adds Accept-Encoding nor
// decompresses) and protocol upgrades pass through. The service's timeout
// bounds each wait on the upstream: the dial, taking the request body, and
// the response headers, whose deadline starts once the body has been sent
// (as Envoy's route timeout does), so a slow upload to a healthy upstream
// succeeds. An upstream past its timeout gets 504, an unreachable,
// resetting or TLS-failing one 502, both as problem+json naming the
// service. A client that leaves its upload without sending more for
// RouterConfig.UploadIdleTimeout (default 30s) gets a 408 problem from
// the router, never reported as an upstream failure; a client that went
// away gets nothing and causes no log.
//
// mock_v3: the host's MockResolver gives the workspace's http.Handler,
// called in process with the request the upstream would have seen (same
// path, same forwarded and hop headers), so a service can switch between
// mock and real without its handler noticing.
//
// chaos_driven: see Chaos below.
//
// Every response says who produced it in X-Mockops-Served-By: "mock",
// "real", "chaos" for a fault's own answer (abort, a hang that gave up),
// or "router" for answers the router made itself (no route, denied, loop,
// not implemented).
//
// A panic in host code the router calls (MockResolver, a mock handler,
// Authorize, the fallback handler) is recovered and logged with its
// stack: the client gets a 500 problem if nothing was written yet, and a
// cut response (http.ErrAbortHandler) otherwise. That problem starts from
// the response headers set before the router was called: what the handler
// set for the answer it never wrote (Cache-Control, Set-Cookie, ETag, ...)
// is dropped.
//
// A failing MockResolver answers 502; the client learns only that the
// workspace is unavailable, and the Observer's Exchange.Err wraps both
// ErrMockUnavailable and the resolver's own error, so the cause reaches
// the host even without a Logger.
//
// # Chaos
//
// A chaos_driven service is served by its base (chaos.base: mock, the
// default, or real) with faults injected:
//
//	chaos:
//	  base: mock
//	  seed: 7
//	  key_header: X-Request-Id        # optional decision key
//	  header_faults: true             # honour X-Mockops-Chaos: abort, latency
//	  max_active_faults: 2            # cap per request; 0 = none
//	  latency: {p: 0.2, uniform: [50ms, 200ms]}   # or fixed: 1s, or lognormal: {median: 80ms, sigma: 0.5}
//	  bandwidth: {p: 0.1, bytes_per_second: 2048}
//	  abort: {p: 0.05, status: 503, retry_after: 2s}
//	  reset: {p: 0.01}
//	  empty: {p: 0.01}
//	  truncate: {p: 0.01, after: 128}
//	  hang: {p: 0.01, duration: 10s}  # 0: until the client leaves, bounded by the service timeout
//
// Without a chaos block the service is served by its mock untouched.
// Every fault has a required probability p (a missing one is a parse
// error): 0 never fires, 1 always does.
// Each configured fault is drawn once per request, independently, from
// hash(seed, service, fault, key) mapped onto [0, 1): the key is the
// key_header's value when the request carries it, otherwise the service's
// request sequence number (0, 1, 2, ... since the Router was created). A
// seeded run is therefore reproducible whatever order its goroutines are
// served in: per key with a key header, as a whole with the sequence.
// Latency values are further draws of the same hash.
//
// Faults apply in one order: the delays first (latency before serving;
// bandwidth paces the response body in tenth-of-a-second slices), then at
// most one terminal fault, the first that fired of abort (a problem+json
// with the status and, when set, Retry-After in whole seconds), reset
// (the connection is taken and closed with linger 0: the client sees a
// TCP RST), empty (closed without a response: an empty reply), truncate
// (the base's first `after` bytes are flushed, then the connection is
// dropped, so the client sees a cut body, never a short complete one) and
// hang (no answer until the client leaves or the duration passes, then a
// 504 problem). max_active_faults caps the faults applied to one request
// in that order, header-requested ones included. Every wait ends as soon
// as the client goes away; nothing is written then.
//
// On HTTP/2 a handler cannot take the connection: reset and empty reset
// the request's stream instead (http.ErrAbortHandler, RST_STREAM), and the
// connection goes on serving its other streams.
//
// With header_faults, a request may name faults in X-Mockops-Chaos
// ("abort, latency"); only faults the service configures can be asked for,
// and the cap still applies. Without it the header is ignored.
//
// Exchange.Faults says which faults were applied; an Exchange.Err caused by
// one wraps ErrChaosFault. Router.ChaosStats counts requests and faults
// injected per service; the counters and the sequence survive Update.
// Deciding allocates nothing (BenchmarkChaosDecision).
//
// # Protocols
//
// A service says what it speaks with `protocol:` (Service.Protocol):
//
//   - http (the default): HTTP/1.1 to the upstream, or HTTP/2 when a TLS
//     upstream offers it by ALPN.
//   - http2: HTTP/2 to the upstream whatever the scheme: cleartext with
//     prior knowledge (h2c) for http://, TLS with ALPN h2 for https://.
//     An HTTP/1 client still gets the upstream's trailers (chunked).
//   - grpc: HTTP/2 to the upstream as for http2, and gRPC semantics:
//     trailers (grpc-status) and client, server and bidi streams pass
//     through as they come, and a gRPC error without messages
//     (Trailers-Only) arrives whole. The router runs no timer of its own
//     on a call (a stream may rightly wait), so `timeout:` is refused: a
//     call's deadline is the client's grpc-timeout, propagated to the
//     upstream as the time left; a second after it passes, if neither end
//     has ended the call, the router answers grpc-status 4
//     (DEADLINE_EXCEEDED). The router's other errors stay problem+json,
//     which gRPC clients read as Unavailable (502, 503, 504) and retry.
//   - websocket: the HTTP/1.1 upgrade passes through real (the proxy
//     hands the connection over after the upstream's 101), mock_v3 (the
//     mock handler hijacks the connection through the router's writer)
//     and chaos (latency before the upgrade; reset, empty, abort, hang
//     instead of it).
//
// For http2 and grpc, a RouterConfig.Transport is cloned with its
// Protocols set to HTTP/2 only; a RouterConfig.NewTransport is used as
// given and must itself speak HTTP/2 to those upstreams. Upgrades and
// streams pass through a service left at http too; declaring the
// protocol is what gets the transport and the checks below.
//
// A mock_v3 gRPC service is a grpc-go server used as the mock handler
// (*grpc.Server's ServeHTTP), which serves only HTTP/2 requests: the
// host's server must accept cleartext HTTP/2 (EnableH2C) or serve TLS
// with HTTP/2. WebSocket over HTTP/2 (RFC 8441) is not served.
//
// What cannot apply to a stream is refused by Parse and Validate, with
// the position of the value that asks for it, for the service and for
// each scenario override: for grpc, the blended level (every strategy
// buffers, replays or merges a request or an answer) and the truncate
// fault; for websocket, the blends but real_first (without
// compare_sample: the mock takes the upgrade when the upstream fails
// before answering) and the truncate and bandwidth faults (after the
// upgrade the bytes no longer pass through the router's writer).
//
// # Safety
//
//   - Loop guard: X-Mockops-Hops counts routers a request went through;
//     past RouterConfig.MaxHops (default 8) the answer is 508. It is
//     checked for every request, those for the FallbackHandler included,
//     and must be written in digits only (no sign), or the answer is 400.
//   - Authorize decides every routed request for its service (403).
//   - Egress (an EgressPolicy) decides every upstream connection when it
//     is dialled, on the address the name resolved to, so neither DNS
//     rebinding nor "localhost" gets around it. The zero value denies
//     link-local and cloud metadata addresses and names and allows
//     loopback and private ones; a host allows or denies CIDRs and names.
//     An upstream URL that already shows a denied address or name is
//     rejected when the snapshot is built; a refused dial answers 502.
//   - AllowUpstream vets every upstream URL when a snapshot is built: a
//     URL-level convenience, not a boundary.
//   - Request bodies: real and mock_v3 buffer none (they stream); blended
//     keeps at most Blend.MaxBody per request to replay it.
//
// # Observation
//
// Every exchange (service, reality, who served it, method, route, status,
// latency, body sizes, and the request as the service saw it: rewritten
// path, hop-by-hop headers removed, for real and mock_v3 alike) goes to
// RouterConfig.Observer once the handler or proxy has returned, on the
// request's goroutine; see Observer for why it must not block.
//
// # Scenarios
//
// Router.ActivateScenario layers a scenario's overrides (reality, and
// blend or chaos blocks that replace the service's whole block) over the
// definition and serves the result as one new snapshot, after the host's
// ScenarioActivator has switched every workspace (dependencies first) and
// the activation is stored; any failure switches the workspaces already
// moved back, in reverse order, and leaves the old snapshot serving.
// Router.SetReality switches one service on top of the definition and the
// scenario. Both are stored when RouterConfig.Store is set, announced as
// config.changed (scope "federation/<name>"), and applied by other
// replicas' Router.Sync. Update keeps both layers.
//
// # Shared state
//
// State is a federation's versioned key/value space in the Store (scope
// "federation/<name>"): Get, Put, CompareAndSwap, Delete and List by
// prefix; a stale version fails with store.ErrConflict. Mock handlers
// reach it with StateFrom(r.Context()), so replicas and workspaces share
// what their mocks create.
//
// # Registry and admin API
//
// A Registry keeps named federations in the Store (validated before they
// are stored, versioned) and serves each with its own Router; Run reloads
// on config.changed events and polls, comparing versions, so a missed
// event heals. NewHandler is its HTTP admin API under /api/v2/federations,
// authorized by store/access.
//
// # Concurrency properties
//
// A Router is safe for concurrent use. It starts no goroutine of its own
// except blended shadow calls, bounded by MaxShadows and their service
// timeout, which Shutdown waits for (the transports' connection
// goroutines end with Close or their idle timeout). Update is serialised; it validates and builds the next
// snapshot aside and swaps it in with one atomic store, so a request sees
// one whole snapshot, a failed Update changes nothing (the transports it
// made are dropped), and requests in flight finish on the snapshot they
// started with. The transport of an upstream that no snapshot uses any
// more is pruned, its idle connections closed, when the last request in
// flight on a replaced snapshot ends (at once when there is none); an
// upstream that comes back later gets a new transport. Close closes idle
// upstream connections, and those of requests still in flight as they
// end, so no connection goroutine outlives the Router; call it once the
// server in front has stopped. Update after Close fails with ErrClosed.
package federation
