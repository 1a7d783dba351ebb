package main

import (
	"strings"
	"testing"
	"time"
)

// TestParseTimeArg: every command that takes a time takes it as Prometheus's API does and as
// people write one: dates, and times relative to now.
func TestParseTimeArg(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 34, 56, 789_123_000, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-10-01T00:00:00Z", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-10-01T02:00:00+02:00", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		{"1790812800", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		{"1790812800.5", time.Date(2026, 10, 1, 0, 0, 0, 500_000_000, time.UTC)},
		{"2026-10-01", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-10-01T12:00", time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)},
		{"2026-10-01T12:00:30", time.Date(2026, 10, 1, 12, 0, 30, 0, time.UTC)},
		{"now", now.Truncate(time.Millisecond)},
		{"now-7d", now.AddDate(0, 0, -7).Truncate(time.Millisecond)},
		{"now-1h30m", now.Add(-90 * time.Minute).Truncate(time.Millisecond)},
		{"now+5m", now.Add(5 * time.Minute).Truncate(time.Millisecond)},
	} {
		got, err := parseTimeArg(tc.in, now)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", "now-", "now-7", "now*2d", "nowish", "2026-13-01", "NaN", ""} {
		if got, err := parseTimeArg(bad, now); err == nil {
			t.Errorf("%q: %v, want an error", bad, got)
		}
	}
}

// TestRelativeTimes: slod check and slod record take relative times and dates.
func TestRelativeTimes(t *testing.T) {
	defer func(f func() time.Time) { timeNow = f }(timeNow)
	timeNow = func() time.Time { return time.Date(2026, 10, 1, 2, 0, 0, 0, time.UTC) }
	code, stdout, stderr := runCheckCmd("testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--format", "json", "--from", "now-90m", "--to", "2026-10-01T01:00")
	if code != 0 || !contains(stdout, `"from": "2026-10-01T00:30:00Z"`, `"to": "2026-10-01T01:00:00Z"`) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
