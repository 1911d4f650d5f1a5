// Package temporalx wires opsflow's configuration into Temporal clients, so the worker, the
// starter and the tests dial the same way: logger, encrypting data converter, failure
// converter, namespace.
package temporalx

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/opsflow/opsflow/internal/codec"
	"github.com/opsflow/opsflow/internal/config"
)

// NewLogger returns the process's structured logger at the configured level.
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// ClientOptions builds the options every opsflow client uses. Payloads and failure
// messages are encrypted with the configured keys; there is no unencrypted mode.
func ClientOptions(cfg config.Client, logger *slog.Logger) (client.Options, error) {
	keys, err := codec.LoadKeyring(cfg.Codec.KeysFile, cfg.Codec.Keys)
	if err != nil {
		return client.Options{}, err
	}
	dc := codec.DataConverter(keys)
	return client.Options{
		HostPort:         cfg.Temporal.Address,
		Namespace:        cfg.Temporal.Namespace,
		Logger:           sdklog.NewStructuredLogger(NewRedactingLogger(logger)),
		DataConverter:    dc,
		FailureConverter: codec.FailureConverter(dc),
	}, nil
}

// Dial connects to the Temporal frontend and fails fast with the address in the error.
func Dial(cfg config.Client, logger *slog.Logger, opts ...func(*client.Options)) (client.Client, error) {
	o, err := ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	for _, f := range opts {
		f(&o)
	}
	c, err := client.Dial(o)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", cfg.Temporal.Address, cfg.Temporal.Namespace, err)
	}
	return c, nil
}
