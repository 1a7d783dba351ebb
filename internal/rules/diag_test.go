package rules

import "testing"

func TestDiagnosticFormat(t *testing.T) {
	tests := []struct {
		name             string
		d                Diagnostic
		wantErr, wantWrn string
	}{
		{
			name:    "field and position",
			d:       Diagnostic{Pos: Pos{File: "rules/a.yaml", Line: 3, Col: 7}, Field: "slos[0].objective", Message: "bad"},
			wantErr: "rules/a.yaml:3:7: slos[0].objective: bad",
			wantWrn: "rules/a.yaml:3:7: warning: slos[0].objective: bad",
		},
		{
			name:    "no field",
			d:       Diagnostic{Pos: Pos{File: "a.yaml", Line: 1, Col: 1}, Message: "empty file"},
			wantErr: "a.yaml:1:1: empty file",
			wantWrn: "a.yaml:1:1: warning: empty file",
		},
		{
			name:    "whole file, no line",
			d:       Diagnostic{Pos: Pos{File: "missing.yaml"}, Message: "reading rules: no such file or directory"},
			wantErr: "missing.yaml: reading rules: no such file or directory",
			wantWrn: "missing.yaml: warning: reading rules: no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Error(); got != tt.wantErr {
				t.Errorf("Error() = %q, want %q", got, tt.wantErr)
			}
			if got := tt.d.Warning(); got != tt.wantWrn {
				t.Errorf("Warning() = %q, want %q", got, tt.wantWrn)
			}
		})
	}
	errs := Errors{tests[0].d, tests[1].d}
	if got, want := errs.Error(), tests[0].wantErr+"\n"+tests[1].wantErr; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}
