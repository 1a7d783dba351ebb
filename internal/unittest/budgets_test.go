package unittest

import (
	"bytes"
	"context"
	"testing"
)

// TestBudgetFeatures runs the fixtures of testdata/budgets: the low-traffic guard, budget alerts,
// calendar periods and exclusions, as slod test sees them.
func TestBudgetFeatures(t *testing.T) {
	files, err := FindTestFiles([]string{"testdata/budgets"})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			var out bytes.Buffer
			if sum := Run(context.Background(), []string{file}, &out, Options{}); !sum.OK() || sum.Assertions == 0 {
				t.Errorf("%+v\n%s", sum, out.String())
			}
		})
	}
}
