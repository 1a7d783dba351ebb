package notify

import (
	"encoding/json"
	"log/slog"
)

// redacted is what every rendering of a Secret prints, so a routing key can never leak through a
// log line, an error, /metrics or a config dump, whichever encoder touches it.
const redacted = "<secret>"

// Secret is a credential read from the config (a PagerDuty routing key, a webhook header value).
// It decodes from YAML like a string, but every way of printing it (fmt, %#v, JSON, YAML, slog)
// yields "<secret>". Use Reveal only where the value is sent to the receiver.
type Secret string

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer so that %#v of a config does not print the value either.
func (s Secret) GoString() string { return `"` + redacted + `"` }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalYAML implements yaml.Marshaler: a dumped config shows the key was set, not its value.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }

// MarshalText implements encoding.TextMarshaler (used by slog's text handler and map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Reveal returns the secret's value; call it only to put the value on the wire.
func (s Secret) Reveal() string { return string(s) }
