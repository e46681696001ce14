package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store/access"
)

// TestHandlerAuthorization drives every route as callers with different
// rights and checks the answer and what the Authorizer was asked: the
// resource, the action and the workspace concerned.
func TestHandlerAuthorization(t *testing.T) {
	a := newAPI(t, apiOptions{})
	a.put(payDef)
	a.put(globalDef)
	a.put(ordersDef)
	ctx := context.Background()
	payX, err := a.eng.Trigger(ctx, "pay", events.Event{})
	if err != nil {
		t.Fatal(err)
	}
	ordersX, err := a.eng.Trigger(ctx, "orders", events.Event{})
	if err != nil {
		t.Fatal(err)
	}
	globalX, err := a.eng.Trigger(ctx, "global", events.Event{Workspace: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	newPay := strings.Replace(payDef, "name: pay", "name: pay2", 1)
	newOrders := strings.Replace(ordersDef, "name: orders", "name: orders2", 1)
	yaml := "application/yaml"
	read := func(r access.Resource, ws, name string) access.Request {
		return access.Request{Resource: r, Action: access.Read, Workspace: ws, Name: name}
	}
	write := func(ws, name string) access.Request {
		return access.Request{Resource: access.Pipelines, Action: access.Write, Workspace: ws, Name: name}
	}
	operate := func(r access.Resource, ws, name string) access.Request {
		return access.Request{Resource: r, Action: access.Operate, Workspace: ws, Name: name}
	}
	tests := []struct {
		name   string
		req    req
		status int
		asked  access.Request // the last request the Authorizer decided
	}{
		{"list anonymous", req{method: "GET", path: "/api/v2/pipelines"}, 401, read(access.Pipelines, "", "")},
		{"list", req{method: "GET", path: "/api/v2/pipelines", token: "reader"}, 200, read(access.Pipelines, "", "")},
		{"list workspace", req{method: "GET", path: "/api/v2/pipelines?workspace=payments", token: "reader"}, 200, read(access.Pipelines, "payments", "")},

		{"get anonymous", req{method: "GET", path: "/api/v2/pipelines/pay"}, 401, read(access.Pipelines, "payments", "pay")},
		{"get", req{method: "GET", path: "/api/v2/pipelines/pay", token: "reader"}, 200, read(access.Pipelines, "payments", "pay")},

		{"create anonymous", req{method: "POST", path: "/api/v2/pipelines", ctype: yaml, body: newPay}, 401, write("payments", "pay2")},
		{"create reader", req{method: "POST", path: "/api/v2/pipelines", token: "reader", ctype: yaml, body: newPay}, 403, write("payments", "pay2")},
		{"create other workspace", req{method: "POST", path: "/api/v2/pipelines", token: "pay", ctype: yaml, body: newOrders}, 403, write("orders", "orders2")},
		// An invalid definition's problems are shown only to a caller
		// allowed in the workspace it names.
		{"create invalid other workspace", req{method: "POST", path: "/api/v2/pipelines", token: "pay", ctype: yaml, body: "name: x\nworkspace: orders\nsteps: 3\n"}, 403, write("orders", "x")},
		{"create malformed reader", req{method: "POST", path: "/api/v2/pipelines", token: "reader", ctype: "application/json", body: "{"}, 403, write("", "")},
		{"create", req{method: "POST", path: "/api/v2/pipelines", token: "pay", ctype: yaml, body: newPay}, 201, write("payments", "pay2")},

		// The stored pipeline's workspace is decided before the body is
		// read: a malformed body is not even looked at.
		{"put reader", req{method: "PUT", path: "/api/v2/pipelines/pay", token: "reader", ctype: yaml, body: "name: [oops"}, 403, write("payments", "pay")},
		{"put other workspace", req{method: "PUT", path: "/api/v2/pipelines/orders", token: "pay", ctype: yaml, body: "name: [oops"}, 403, write("orders", "orders")},
		{"put moves to a denied workspace", req{method: "PUT", path: "/api/v2/pipelines/pay", token: "pay", ctype: yaml,
			body: strings.Replace(payDef, "payments", "orders", 1)}, 403, write("orders", "pay")},
		{"put", req{method: "PUT", path: "/api/v2/pipelines/pay", token: "pay", ctype: yaml, body: payDef}, 200, write("payments", "pay")},

		{"delete anonymous", req{method: "DELETE", path: "/api/v2/pipelines/pay2"}, 401, write("payments", "pay2")},
		{"delete other workspace", req{method: "DELETE", path: "/api/v2/pipelines/orders", token: "pay"}, 403, write("orders", "orders")},
		{"delete", req{method: "DELETE", path: "/api/v2/pipelines/pay2", token: "pay"}, 204, write("payments", "pay2")},

		{"trigger reader", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", token: "reader", body: "{oops"}, 403, operate(access.Pipelines, "payments", "pay")},
		{"trigger other workspace", req{method: "POST", path: "/api/v2/pipelines/orders/trigger", token: "pay"}, 403, operate(access.Pipelines, "orders", "orders")},
		{"trigger", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", token: "pay"}, 202, operate(access.Pipelines, "payments", "pay")},
		// An unscoped pipeline's execution belongs to its event's workspace.
		{"trigger unscoped in denied workspace", req{method: "POST", path: "/api/v2/pipelines/global/trigger", token: "pay", body: `{"workspace":"orders"}`}, 403, operate(access.Pipelines, "orders", "global")},
		{"trigger unscoped", req{method: "POST", path: "/api/v2/pipelines/global/trigger", token: "pay", body: `{"workspace":"payments"}`}, 202, operate(access.Pipelines, "payments", "global")},
		{"trigger into another workspace", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", token: "pay", body: `{"workspace":"orders"}`}, 422, operate(access.Pipelines, "payments", "pay")},

		{"stats anonymous", req{method: "GET", path: "/api/v2/pipelines/pay/stats"}, 401, read(access.Pipelines, "payments", "pay")},
		{"stats", req{method: "GET", path: "/api/v2/pipelines/pay/stats", token: "reader"}, 200, read(access.Pipelines, "payments", "pay")},

		{"validate anonymous", req{method: "POST", path: "/api/v2/pipelines/validate", ctype: yaml, body: payDef}, 401, read(access.Pipelines, "payments", "pay")},
		{"validate", req{method: "POST", path: "/api/v2/pipelines/validate", token: "reader", ctype: yaml, body: payDef}, 200, read(access.Pipelines, "payments", "pay")},

		{"test anonymous", req{method: "POST", path: "/api/v2/pipelines/test", body: `{"type":"schema.changed","workspace":"payments"}`}, 401, read(access.Pipelines, "payments", "")},
		{"test", req{method: "POST", path: "/api/v2/pipelines/test", token: "reader", body: `{"type":"schema.changed","workspace":"payments"}`}, 200, read(access.Pipelines, "payments", "")},

		{"executions anonymous", req{method: "GET", path: "/api/v2/executions"}, 401, read(access.Executions, "", "")},
		{"executions", req{method: "GET", path: "/api/v2/executions", token: "reader"}, 200, read(access.Executions, "", "")},
		{"executions of a pipeline", req{method: "GET", path: "/api/v2/executions?pipeline=pay", token: "reader"}, 200, read(access.Executions, "payments", "pay")},

		{"execution anonymous", req{method: "GET", path: "/api/v2/executions/" + ordersX}, 401, read(access.Executions, "orders", ordersX)},
		{"execution", req{method: "GET", path: "/api/v2/executions/" + ordersX, token: "reader"}, 200, read(access.Executions, "orders", ordersX)},
		{"execution of unscoped pipeline", req{method: "GET", path: "/api/v2/executions/" + globalX, token: "reader"}, 200, read(access.Executions, "orders", globalX)},

		{"cancel reader", req{method: "POST", path: "/api/v2/executions/" + payX + "/cancel", token: "reader"}, 403, operate(access.Executions, "payments", payX)},
		{"cancel other workspace", req{method: "POST", path: "/api/v2/executions/" + ordersX + "/cancel", token: "pay"}, 403, operate(access.Executions, "orders", ordersX)},
		{"cancel unscoped other workspace", req{method: "POST", path: "/api/v2/executions/" + globalX + "/cancel", token: "pay"}, 403, operate(access.Executions, "orders", globalX)},
		{"cancel", req{method: "POST", path: "/api/v2/executions/" + payX + "/cancel", token: "pay"}, 200, operate(access.Executions, "payments", payX)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t = t
			a.authz.take()
			res := a.do(tt.req).want(tt.status)
			asked := a.authz.take()
			if len(asked) == 0 {
				t.Fatalf("%s %s: the Authorizer was not asked", tt.req.method, tt.req.path)
			}
			if diff := cmp.Diff(tt.asked, asked[len(asked)-1]); diff != "" {
				t.Errorf("%s %s: last request decided (-want +got):\n%s", tt.req.method, tt.req.path, diff)
			}
			if tt.status == 401 || tt.status == 403 {
				// A denial names neither the workspace nor the Authorizer's reason.
				for _, leak := range []string{tt.asked.Workspace, "access:"} {
					if leak != "" && strings.Contains(string(res.body), leak) {
						t.Errorf("denial %s mentions %q", res.body, leak)
					}
				}
			}
		})
	}
}

// TestHandlerZeroConfig checks that a handler built with no Authorizer
// serves reads and refuses every change.
func TestHandlerZeroConfig(t *testing.T) {
	a := newAPI(t, apiOptions{readOnly: true})
	a.put(payDef)
	id, err := a.eng.Trigger(context.Background(), "pay", events.Event{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		req    req
		status int
	}{
		{req{method: "GET", path: "/api/v2/pipelines"}, 200},
		{req{method: "GET", path: "/api/v2/pipelines/pay"}, 200},
		{req{method: "GET", path: "/api/v2/pipelines/pay/stats"}, 200},
		{req{method: "GET", path: "/api/v2/executions"}, 200},
		{req{method: "GET", path: "/api/v2/executions/" + id}, 200},
		{req{method: "POST", path: "/api/v2/pipelines/validate", ctype: "application/yaml", body: payDef}, 200},
		{req{method: "POST", path: "/api/v2/pipelines/test", body: `{"type":"schema.changed"}`}, 200},
		{req{method: "POST", path: "/api/v2/pipelines", ctype: "application/yaml", body: globalDef}, 403},
		{req{method: "PUT", path: "/api/v2/pipelines/pay", ctype: "application/yaml", body: payDef}, 403},
		{req{method: "DELETE", path: "/api/v2/pipelines/pay"}, 403},
		{req{method: "POST", path: "/api/v2/pipelines/pay/trigger"}, 403},
		{req{method: "POST", path: "/api/v2/executions/" + id + "/cancel"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.req.method+" "+tt.req.path, func(t *testing.T) {
			a.t = t
			a.do(tt.req).want(tt.status)
		})
	}
	x, err := a.st.GetExecution(context.Background(), id)
	if err != nil || x.Status != "queued" {
		t.Errorf("execution after refused cancel = %v, %v; want queued", x.Status, err)
	}
	if _, err := a.eng.Get(context.Background(), "pay"); err != nil {
		t.Errorf("pipeline after refused delete: %v", err)
	}
}

// TestHandlerPanickingAuthorizer checks that an Authorizer that panics
// denies rather than failing open or killing the connection.
func TestHandlerPanickingAuthorizer(t *testing.T) {
	panics := access.AuthorizerFunc(func(*http.Request, access.Request) error { panic("boom") })
	a := newAPI(t, apiOptions{cfg: pipeline.HandlerConfig{Authorizer: panics}})
	a.do(req{method: "GET", path: "/api/v2/pipelines"}).want(403)
}

// TestHandlerDenialLogged checks that the Authorizer's reason goes to the
// Logger, never to the caller.
func TestHandlerDenialLogged(t *testing.T) {
	var logs bytes.Buffer
	secretReason := access.AuthorizerFunc(func(*http.Request, access.Request) error {
		return fmt.Errorf("%w: token t-123 belongs to team blue", access.ErrDenied)
	})
	a := newAPI(t, apiOptions{cfg: pipeline.HandlerConfig{
		Authorizer: secretReason,
		Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}})
	res := a.do(req{method: "GET", path: "/api/v2/pipelines"}).want(403)
	if strings.Contains(string(res.body), "team blue") {
		t.Errorf("answer %s carries the Authorizer's reason", res.body)
	}
	if !strings.Contains(logs.String(), "team blue") {
		t.Errorf("log %q lacks the Authorizer's reason", logs.String())
	}
}
