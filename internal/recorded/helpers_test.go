package recorded

import (
	"strconv"
	"time"
)

func strconvMillis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
func strconvFloat(v float64) string    { return strconv.FormatFloat(v, 'g', -1, 64) }
