package jsonbody_test

import (
	"errors"
	"fmt"

	"github.com/mockops/mockops/internal/jsonbody"
)

func ExampleDecode() {
	var in struct {
		Path string `json:"path"`
	}
	err := jsonbody.Decode([]byte("{\n  \"path\": 3\n}"), &in)
	if se, ok := errors.AsType[*jsonbody.SyntaxError](err); ok {
		fmt.Printf("request:%d:%d: %s\n", se.Line, se.Column, se.Msg)
	}
	// Output:
	// request:2:11: member "path" must be a string
}
