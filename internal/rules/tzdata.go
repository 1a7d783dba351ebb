package rules

// The time zone database is compiled in: calendar periods and exclusions name time zones, and the
// container images slod runs in need not ship /usr/share/zoneinfo.
import _ "time/tzdata"
