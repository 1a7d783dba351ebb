package daemon

import (
	"reflect"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/promapi"
)

// TestPromapiConfigCarriesEveryField: every setting of the prometheus section reaches the client;
// a field added to one side and not converted would silently be ignored.
func TestPromapiConfigCarriesEveryField(t *testing.T) {
	in := config.PrometheusConfig{
		URL: "https://prom:9090", Headers: map[string]string{"X-Scope-OrgID": "team-a"},
		BearerToken: "tok", BearerTokenFile: "/run/tok",
		BasicAuth: &config.BasicAuth{Username: "slod", Password: "pw", PasswordFile: "/run/pw"},
		TLSConfig: config.TLSConfig{CAFile: "/ca", CertFile: "/cert", KeyFile: "/key", ServerName: "prom", InsecureSkipVerify: true},
		Timeout:   config.Duration(7 * time.Second), MaxConcurrentQueries: 3,
	}
	want := promapi.Config{
		URL: "https://prom:9090", Headers: map[string]string{"X-Scope-OrgID": "team-a"},
		BearerToken: "tok", BearerTokenFile: "/run/tok",
		BasicAuth: &promapi.BasicAuth{Username: "slod", Password: "pw", PasswordFile: "/run/pw"},
		TLS:       promapi.TLSConfig{CAFile: "/ca", CertFile: "/cert", KeyFile: "/key", ServerName: "prom", InsecureSkipVerify: true},
		Timeout:   7 * time.Second, MaxConcurrentQueries: 3,
	}
	got := SourceConfig(in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("promapiConfig = %#v\nwant %#v", got, want)
	}
	// Every field of the client's Config is set above, so none can be forgotten by both sides.
	for _, v := range []reflect.Value{reflect.ValueOf(want), reflect.ValueOf(want.TLS), reflect.ValueOf(*want.BasicAuth)} {
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Errorf("test sets no %s.%s", v.Type().Name(), v.Type().Field(i).Name)
			}
		}
	}
	if c := SourceConfig(config.PrometheusConfig{URL: "http://p"}); c.BasicAuth != nil {
		t.Errorf("no basic_auth became %+v", c.BasicAuth)
	}
}
