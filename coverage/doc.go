// Package coverage will record what traffic exercised in a mock platform
// and serve it as JSON, a CI gate and a dashboard (DESIGN.md, "coverage").
//
// # What exists now
//
// OpenAPI documents compiled for coverage, the foundation the collector
// builds on: LoadOpenAPI and LoadOpenAPIFile load an OpenAPI 3.0 or 3.1
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
// # Not built yet
//
// The collector (NewCollector, Middleware, Record, the federation
// Observer, Run and Shutdown), setting or replacing a spec per service at
// run time, the five metrics (scenario heatmap, persona CI hits, endpoint
// coverage, staleness, drift), schema.changed on a changed contract,
// Report, Gate and its JUnit export, and the HTTP API and dashboard do
// not exist yet.
package coverage
