package problem

import "net/http"

// Position is one positioned problem of an answer (its "errors" member):
// a definition's diagnostic, or where a request body stops parsing. Line
// and Column are 1-based, 0 when unknown; Path, when set, is the
// definition path the problem is about.
type Position struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
}

// ClientError is a client error found decoding a request: the status to
// answer, its detail, and the positions a parser found. The admin APIs
// return it from their decoders and answer it with Write.
type ClientError struct {
	Status   int
	Detail   string
	Problems []Position
}

func (e *ClientError) Error() string { return e.Detail }

// Write answers e as problem+json, its positions as "errors".
func (e *ClientError) Write(w http.ResponseWriter) {
	p := New(e.Status, e.Detail)
	if len(e.Problems) > 0 {
		p = p.With("errors", e.Problems)
	}
	Write(w, p)
}
