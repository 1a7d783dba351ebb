package main

import (
	"fmt"
	"os"

	"github.com/slod-dev/slod/internal/rules"
)

func main() {
	set, err := rules.Load(os.Args[1:])
	if err != nil {
		fmt.Println("ERR", err)
	}
	if set == nil {
		return
	}
	for _, w := range set.Warnings {
		fmt.Println("WARN", w.Error())
	}
	for _, s := range set.SLOs {
		fmt.Printf("%s obj=%v period=%v kind=%s windows=%+v nodata=%+v labels=%v\n", s.ID(), s.Objective, s.Period, s.SLI.Kind, s.Alerting.Windows, s.Alerting.NoData, s.Labels)
	}
}
