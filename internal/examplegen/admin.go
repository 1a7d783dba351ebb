package examplegen

import (
	"time"

	"github.com/slod-dev/slod/internal/check"
)

//go:generate go run ../../cmd/slod-examplegen -example admin -o ../../examples/admin.om

// AdminStart is when examples/admin.om begins; it spans a day.
var AdminStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// Admin is the recording behind examples/admin.om, the README's low-traffic example: a day of an
// internal admin API at exactly one request a minute (admin_requests_total by code, scraped every
// minute, 15 s into it) with four single failed requests (at 02:00, 07:30, 12:10 and 15:45) and a
// 30-minute outage from 20:00 in which every request fails. It is not drawn at random: at this
// traffic each failed request is a story of its own, and the example shows what becomes of each.
func Admin() []check.Series {
	bad := map[int]bool{}
	for _, hm := range [][2]int{{2, 0}, {7, 30}, {12, 10}, {15, 45}} {
		bad[hm[0]*60+hm[1]] = true
	}
	for m := 20 * 60; m < 20*60+30; m++ {
		bad[m] = true
	}
	series := func(code string) check.Series {
		return check.Series{Labels: []check.Label{{Name: "__name__", Value: "admin_requests_total"}, {Name: "job", Value: "admin"}, {Name: "code", Value: code}}}
	}
	ok, failed := series("200"), series("500")
	okN, failedN := 0.0, 0.0
	for m := 0; m <= 24*60; m++ {
		if bad[m] {
			failedN++
		} else {
			okN++
		}
		t := AdminStart.Add(time.Duration(m)*time.Minute + 15*time.Second).UnixMilli()
		ok.Samples = append(ok.Samples, check.Sample{T: t, V: okN})
		failed.Samples = append(failed.Samples, check.Sample{T: t, V: failedN})
	}
	return []check.Series{ok, failed}
}
