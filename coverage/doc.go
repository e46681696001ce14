// Package coverage records what traffic exercised in a mock platform and
// serves it as JSON reports and a CI gate (DESIGN.md, "coverage").
//
// # Specs
//
// OpenAPI documents compiled for coverage: LoadOpenAPI and LoadOpenAPIFile load an OpenAPI 3.0 or 3.1
// document (JSON or YAML) with github.com/getkin/kin-openapi, resolve its
// $refs (inside the document: external references are refused), and
// compile it into a Spec: every operation (method + path template) gets a
// dense OpID, with its declared responses (explicit codes, "2XX" ranges,
// "default"; Operation.ResponseFor picks the one a status selects),
// whether it declares a request body, and whether it is deprecated.
//
// Spec.Match maps (method, escaped path) to an OpID without allocating,
// through a segment trie of our own: kin-openapi's router is never on
// the hot path. Server base paths ("https://petstore.swagger.io/v2" puts
// every path under /v2) and per-path servers (Twilio sets them on every
// path) are part of the trie; server variables expand to their enum
// values or their default. At each segment a literal beats a template,
// so concrete paths win over templated ones as OpenAPI asks, and a
// parameter matches a non-empty part of one segment, so "{Sid}.json"
// matches "CA123.json". Tests check the matcher against kin-openapi's
// gorillamux router on the documents in testdata/.
//
// Where a path is ambiguous between two templates that put a literal at
// different segments ("/a/{x}/c" and "/{y}/b/c" for "/a/b/c"), the trie
// takes the literal at the first segment where they differ; kin-openapi's
// router takes the template with fewer parameters, then the greater one
// in byte order. OpenAPI leaves the case undefined ("ambiguous paths").
//
// A Spec is immutable and safe for concurrent use.
//
// # kin-openapi
//
// Documents are read by kin-openapi v0.153.0; v0.136.0 is the first
// release that knows OpenAPI 3.1 (webhooks, type arrays, JSON Schema
// 2020-12 keywords, components.pathItems). What this package does not
// take from it: its whole-document validation, which rejects real
// documents over examples that do not match their schemas (Twilio's) and
// does not change which operations exist; its routers, which are test
// oracles only (gorillamux reads a server variable in a base path as a
// free path parameter, where this package expands it to its values);
// its partial OpenAPI 3.2 support (3.2 documents are refused with
// ErrUnsupportedVersion); and external $refs, refused so that loading
// never reads files or the network.
//
// # Collector
//
// NewCollector(Config) returns a Collector. Traffic comes in three ways:
// Record(Hit), Middleware(next) around a handler, and Observe, which
// makes the collector a federation.Observer (give it to the Router as
// RouterConfig.Observer; do not also wrap the mocks with Middleware).
// Attribution: workspace and service from the federation route or the
// Config; scenario and persona from X-Mockops-Scenario and
// X-Mockops-Persona; CI from an explicit "X-Mockops-Run: ci; id=..."
// (or "local"), then Config.CIUserAgents, then Config.CINetworks. Run
// header values are parsed once per value and user agent and network
// rules once per connection (remote address), in capped caches.
//
// # Hot path
//
// Recording a request allocates nothing once its keys are known. A spec
// is compiled to a dense counter layout (per operation: hit, request
// body, each declared response, CI and local, then the drift slots), so a
// matched request costs Spec.Match and a few atomic adds. String
// dimensions (scenarios, personas, CI runs, paths missing from the spec,
// undeclared statuses) are interned per time bucket in a read-mostly map
// read through an atomic pointer; a new key takes a lock once. The clock
// is coarse: a copy Run refreshes every 100ms, so a request lands in the
// bucket current at the last tick.
//
// # Buckets, flushes and replicas
//
// Counts live in a generation per time bucket (Config.Bucket, an hour by
// default). Flush (every Config.FlushInterval in Run, and in Shutdown and
// Report) seals a generation whose bucket ended, swaps every counter to
// zero and writes the counts as additive rollups (store.Coverage), so
// several replicas flushing into one store give the totals of one. A
// sealed generation is forgotten only when no writer is inside it, so a
// request recorded across the switch is never lost; a failed write is
// kept and retried by the next flush. Shutdown stops Run and flushes
// what is left: nothing recorded before it returns is lost.
//
// # Metrics
//
// Report(ctx, Query) computes the five metrics over a window from the
// store (so every replica's flushed counts are in), in a versioned
// envelope (ReportVersion); each ratio carries its numerator and
// denominator and a null percentage when the denominator is empty. Caps
// (Config.MaxKeys per dimension and bucket) send further values, and
// values longer than MaxKeyBytes, to an explicit OverflowKey entry.
//
//   - Heatmap: scenario x bucket, per workspace (and its team); defined
//     scenarios never used are gaps.
//   - Personas: CI and local requests, last CI hit, distinct CI runs;
//     defined personas without a CI hit are gaps.
//   - Endpoints: operations and branches (the operation, its request
//     body, each declared response: explicit code, then "2XX", then
//     "default"), all traffic and CI only; undeclared statuses; requests
//     missing from the spec; deprecated operations counted apart.
//   - Staleness: per service, the last refresh (SetSpec) and
//     verification against the upstream (Verify) and the contract hashes;
//     never, fresh, aging, stale_by_age or stale_by_content, aged when the
//     report is made.
//   - Drift: drifting branches / compared branches and drifted / compared
//     requests, from the federation's comparisons and ReportDrift.
//
// # Events
//
// Past Config.DriftBudget, drift.threshold_exceeded is published once per
// crossing by the collectors that have a Publisher (one without leaves
// the check to them): the crossing is recorded in the store's state with
// compare-and-swap (StateScopeDrift), so of several replicas only the one
// whose swap wins publishes, and it ends once drift falls below the
// budget minus Config.DriftHysteresis. When a service's contract hash
// (ContractHash) changes through SetSpec or Verify, schema.changed is
// published once, fenced the same way (StateScopeContracts), with the
// operations added, removed and changed and whether that is breaking.
//
// # Gate
//
// Gate(ctx, Thresholds) judges a report: minimum operation coverage (all
// or CI only), maximum requests missing from the spec, maximum drift,
// maximum staleness; the Verdict lists every check, and Verdict.JUnit
// writes it as JUnit XML for CI systems.
//
// # HTTP
//
// NewHandler serves the JSON API (/api/v2/coverage/{heatmap,personas,
// endpoints,staleness,drift,gate}) and the server-rendered dashboard
// (/coverage), authorizing every request through store/access.
package coverage
