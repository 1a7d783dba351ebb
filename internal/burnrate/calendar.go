package burnrate

import (
	"fmt"
	"time"
)

// CalendarPeriod is the length of a calendar SLO period: a week (from Monday), a month or a
// quarter (from January, April, July and October), each starting at midnight in a time zone.
type CalendarPeriod string

// The calendar periods.
const (
	Week    CalendarPeriod = "week"
	Month   CalendarPeriod = "month"
	Quarter CalendarPeriod = "quarter"
)

// Calendar is a calendar-aligned SLO period: the budget is counted from the start of the current
// period and starts afresh at the next one, at local midnight in Location, whatever the UTC offset
// (a month across the end of daylight saving time in Europe/Berlin lasts 31 days and 1 hour).
type Calendar struct {
	Period   CalendarPeriod
	Location *time.Location
}

// Valid reports whether c names a known period (a nil Location is UTC).
func (c Calendar) Valid() bool {
	return c.Period == Week || c.Period == Month || c.Period == Quarter
}

func (c Calendar) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// Start is the start of the period that contains the instant t (t itself when a period starts
// at t).
func (c Calendar) Start(t time.Time) time.Time {
	l := t.In(c.loc())
	y, m, d := l.Date()
	switch c.Period {
	case Week:
		return time.Date(y, m, d-(int(l.Weekday())+6)%7, 0, 0, 0, 0, c.loc())
	case Quarter:
		return time.Date(y, (m-1)/3*3+1, 1, 0, 0, 0, 0, c.loc())
	}
	return time.Date(y, m, 1, 0, 0, 0, 0, c.loc())
}

// Next is the start of the period after the one that starts at start (a result of Start).
func (c Calendar) Next(start time.Time) time.Time {
	l := start.In(c.loc())
	y, m, d := l.Date()
	switch c.Period {
	case Week:
		return time.Date(y, m, d+7, 0, 0, 0, 0, c.loc())
	case Quarter:
		return time.Date(y, m+3, 1, 0, 0, 0, 0, c.loc())
	}
	return time.Date(y, m+1, 1, 0, 0, 0, 0, c.loc())
}

// Bounds is the period whose last instant is the end of the step ending at end: the step
// (end−step, end] belongs to the period its start lies in, so at a period's first boundary the
// closing budget of the period that just ended is still the current one, and the next step
// starts the new period.
func (c Calendar) Bounds(end time.Time) (start, next time.Time) {
	start = c.Start(end.Add(-time.Nanosecond))
	return start, c.Next(start)
}

// Nominal is the period's nominal length, which the alert windows and burn rates are scaled to
// (as OpenSLO does): 7d, 30d or 90d.
func (c Calendar) Nominal() time.Duration {
	switch c.Period {
	case Week:
		return 7 * 24 * time.Hour
	case Quarter:
		return 90 * 24 * time.Hour
	}
	return 30 * 24 * time.Hour
}

// MaxLength is the longest a period can last: 7, 31 or 92 days, and the hour a change of the UTC
// offset (daylight saving time) can add.
func (c Calendar) MaxLength() time.Duration {
	switch c.Period {
	case Week:
		return 7*24*time.Hour + time.Hour
	case Quarter:
		return 92*24*time.Hour + time.Hour
	}
	return 31*24*time.Hour + time.Hour
}

// String is the period and time zone, as the API and slod check show them: "month (Europe/Berlin)".
func (c Calendar) String() string { return fmt.Sprintf("%s (%s)", c.Period, c.loc()) }
