package check

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestWriteOpenMetrics(t *testing.T) {
	tests := []struct {
		name    string
		series  []Series
		want    string
		wantErr string
	}{
		{
			name: "grouped by name, labels sorted, EOF last",
			series: []Series{
				{Labels: []Label{{"__name__", "b_total"}, {"job", "x"}}, Samples: []Sample{{1000, 1}, {31500, 2.5}}},
				{Labels: []Label{{"job", "y"}, {"__name__", "a"}, {"code", `5"00`}}, Samples: []Sample{{-1500, math.Inf(1)}, {0, math.NaN()}}},
			},
			want: "a{code=\"5\\\"00\",job=\"y\"} +Inf -1.5\na{code=\"5\\\"00\",job=\"y\"} NaN 0\n" +
				"b_total{job=\"x\"} 1 1\nb_total{job=\"x\"} 2.5 31.5\n# EOF\n",
		},
		{
			name:   "no labels",
			series: []Series{{Labels: []Label{{"__name__", "up"}}, Samples: []Sample{{1, 1e-9}}}},
			want:   "up 1e-09 0.001\n# EOF\n",
		},
		{
			name:    "unsorted samples",
			series:  []Series{{Labels: []Label{{"__name__", "up"}}, Samples: []Sample{{2000, 1}, {2000, 1}}}},
			wantErr: "not ascending",
		},
		{
			name:    "no name",
			series:  []Series{{Labels: []Label{{"job", "x"}}}},
			wantErr: "no metric name",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteOpenMetrics(&b, tc.series)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}
