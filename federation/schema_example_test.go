package federation_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/mockops/mockops/federation"
)

// A host serves the schema so that editors can fetch it: files then name
// it with "# yaml-language-server: $schema=<this URL>".
func ExampleJSONSchema() {
	mux := http.NewServeMux()
	schema := federation.JSONSchema()
	mux.HandleFunc("GET /schemas/federation.schema.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/schema+json")
		_, _ = w.Write(schema)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/schemas/federation.schema.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var head struct {
		ID    string `json:"$id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Println(head.Title)
	fmt.Println(head.ID == federation.JSONSchemaID)
	// Output:
	// application/schema+json
	// MockOps federation
	// true
}
