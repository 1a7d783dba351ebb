package sli_test

import (
	"fmt"
	"time"

	"github.com/slod-dev/slod/internal/sli"
)

// The increase of a counter over one 1m step, read from the last samples at or before each step
// boundary (within a 10m lookback).
func ExampleRewrite() {
	q, err := sli.Rewrite(`sum(increase(jobs_total{queue="mail"}[{{ .window }}]))`, time.Minute, 10*time.Minute)
	if err != nil {
		panic(err)
	}
	fmt.Println(q)
	// Output:
	// sum(((last_over_time(jobs_total{queue="mail"}[1m]) - last_over_time(jobs_total{queue="mail"}[10m] offset 1m)) >= 0 or (last_over_time(jobs_total{queue="mail"}[1m]) and (last_over_time(jobs_total{queue="mail"}[10m] offset 1m) > last_over_time(jobs_total{queue="mail"}[1m])))))
}

func ExampleAlign() {
	t := time.Date(2026, 10, 4, 6, 1, 42, 0, time.UTC)
	fmt.Println(sli.Align(t, time.Minute).Format(time.RFC3339))
	fmt.Println(sli.Align(t, 5*time.Minute).Format(time.RFC3339))
	// Output:
	// 2026-10-04T06:01:00Z
	// 2026-10-04T06:00:00Z
}
