package compare

import (
	"fmt"
	"os"
	"path"
	"time"

	"github.com/slod-dev/slod/internal/yamlx"
)

// Incident is a known incident: a span of time during which the SLOs it names should have paged.
type Incident struct {
	Name string
	// SLOs are the SLO ids it concerns, or patterns of them (path.Match: chat-api/*); an SLO id
	// names every group of a grouped SLO, an instance id (svc/name{model="code"}) one group.
	SLOs       []string
	Start, End time.Time
}

// Concerns reports whether the incident concerns the SLO sloID, or its instance id.
func (i Incident) Concerns(sloID, id string) bool {
	for _, p := range i.SLOs {
		if ok, _ := path.Match(p, sloID); ok {
			return true
		}
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}

type incidentsSpec struct {
	Incidents []incidentSpec `yaml:"incidents" yamlx:"required"`
}

type incidentSpec struct {
	Name  string   `yaml:"name" yamlx:"required"`
	SLOs  []string `yaml:"slos" yamlx:"required"`
	Start string   `yaml:"start" yamlx:"required"`
	End   string   `yaml:"end" yamlx:"required"`
}

var incidentsKind = yamlx.Kind{Name: "incidents file", Want: "an incidents file with a list of incidents"}

// LoadIncidents reads an incidents file:
//
//	incidents:
//	  - name: INC-1234 bad deploy
//	    slos: [chat-api/availability]
//	    start: 2026-10-04T06:00:00Z
//	    end: 2026-10-04T06:25:00Z
//
// Every problem is reported at once, as file:line:col: field: message (yamlx.Errors).
func LoadIncidents(file string) ([]Incident, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the incidents: %w", err)
	}
	return ParseIncidents(file, data)
}

// ParseIncidents reads the incidents file data, named file in errors.
func ParseIncidents(file string, data []byte) ([]Incident, error) {
	doc := yamlx.Parse(file, data, incidentsKind)
	var spec incidentsSpec
	doc.Decode(&spec)
	var out []Incident
	for i, s := range spec.Incidents {
		p := yamlx.Index("incidents", i)
		inc := Incident{Name: s.Name, SLOs: s.SLOs}
		inc.Start = incidentTime(doc, yamlx.Field(p, "start"), s.Start)
		inc.End = incidentTime(doc, yamlx.Field(p, "end"), s.End)
		if !inc.Start.IsZero() && !inc.End.IsZero() && !inc.End.After(inc.Start) {
			doc.Errorf(yamlx.Field(p, "end"), "must be after start (%s)", s.Start)
		}
		if doc.Has(yamlx.Field(p, "slos")) && len(s.SLOs) == 0 {
			doc.Errorf(yamlx.Field(p, "slos"), "must name at least one SLO")
		}
		for j, pat := range s.SLOs {
			if _, err := path.Match(pat, ""); err != nil {
				doc.Errorf(yamlx.Index(yamlx.Field(p, "slos"), j), "not an SLO id or pattern: %v", err)
			}
		}
		out = append(out, inc)
	}
	if err := doc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// incidentTime parses an incident's start or end: RFC 3339, or a date and time in UTC
// (2026-10-04T06:00).
func incidentTime(doc *yamlx.Doc, field, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC()
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	doc.Errorf(field, "not a time: %q (RFC 3339, 2026-10-04T06:00:00Z, or a date and time in UTC, 2026-10-04T06:00)", s)
	return time.Time{}
}
