package daemon

import (
	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/promapi"
)

// SourceConfig turns the prometheus section of slod.yml into the client's own Config: promapi
// does not know the config file, so the daemon is where the two meet (slod check --config.file
// queries the same source through it).
func SourceConfig(p config.PrometheusConfig) promapi.Config {
	c := promapi.Config{
		URL:                  p.URL,
		Headers:              p.Headers,
		BearerToken:          p.BearerToken,
		BearerTokenFile:      p.BearerTokenFile,
		Timeout:              p.Timeout.D(),
		MaxConcurrentQueries: p.MaxConcurrentQueries,
		TLS: promapi.TLSConfig{
			CAFile:             p.TLSConfig.CAFile,
			CertFile:           p.TLSConfig.CertFile,
			KeyFile:            p.TLSConfig.KeyFile,
			ServerName:         p.TLSConfig.ServerName,
			InsecureSkipVerify: p.TLSConfig.InsecureSkipVerify,
		},
	}
	if ba := p.BasicAuth; ba != nil {
		c.BasicAuth = &promapi.BasicAuth{Username: ba.Username, Password: ba.Password, PasswordFile: ba.PasswordFile}
	}
	return c
}
