package pipeline_test

import (
	"fmt"

	"github.com/mockops/mockops/pipeline"
)

// A host that starts work from an event reads the event's W3C traceparent
// extension with ParseTraceparent (the engine parents its spans on it), and
// writes a span context back with FormatTraceparent.
func ExampleParseTraceparent() {
	sc, ok := pipeline.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	fmt.Println(ok, sc.TraceID(), sc.SpanID(), sc.IsSampled(), sc.IsRemote())
	fmt.Println(pipeline.FormatTraceparent(sc))
	_, ok = pipeline.ParseTraceparent("not a traceparent")
	fmt.Println(ok)
	// Output:
	// true 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 true true
	// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// false
}
