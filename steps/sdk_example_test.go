package steps_test

import (
	"fmt"
	"os"

	"github.com/mockops/mockops/steps"
)

func ExampleNewCommandGenerator() {
	// The host decides which commands run, where, and with which
	// environment; a pipeline only names the spec, the languages and an
	// output directory under Root.
	gen, err := steps.NewCommandGenerator(steps.CommandConfig{
		Root: os.TempDir(),
		Commands: map[string]steps.Command{
			"go":         steps.OAPICodegen("payments"),
			"typescript": steps.OpenAPIGenerator("typescript-fetch"),
		},
		Env:         []string{"PATH", "JAVA_HOME"}, // nothing else of the host's environment
		CleanOutput: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := steps.NewRegistry()
	if err := steps.RegisterRegenerateSDK(r, gen); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Names())
	fmt.Println(steps.OAPICodegen("payments").Args)
	// Output:
	// [regenerate_sdk]
	// [-generate types,client -package payments -o {output}/client.gen.go {spec}]
}
