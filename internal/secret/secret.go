// Package secret holds the one type slod uses for credentials read from its config: a PagerDuty
// routing key, a webhook header value, a bearer token, a basic-auth password. It is a leaf: the
// packages that read, validate and send credentials (config, receiver, promapi, notify) all use it
// without depending on one another.
package secret

import (
	"log/slog"
	"strconv"
)

// Mask is what every rendering of a set Secret prints.
const Mask = "<secret>"

// Secret is a credential. It decodes from YAML like a string, but every way of printing it (fmt's
// %v, %s and %#v, JSON, YAML, encoding.TextMarshaler, slog) yields "<secret>", so a credential
// cannot leak through a log line, an error, /metrics or a config dump, whichever encoder touches
// it. An empty Secret prints as "", so that a dump shows a credential was not set. Call Reveal
// only to put the value on the wire.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString implements fmt.GoStringer so that %#v of a config does not print the value either.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalYAML implements yaml.Marshaler: a dumped config shows the credential was set, not its
// value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText implements encoding.TextMarshaler (used by slog's text handler and for map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
