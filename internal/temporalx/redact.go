package temporalx

import (
	"context"
	"log/slog"
	"regexp"
)

// redactingHandler keeps error texts out of logs: they name files, samples and sites,
// which may be personal data. Only the error's type and retryability are kept; the full
// text stays in the encrypted workflow history, readable through the codec server.
type redactingHandler struct{ next slog.Handler }

// NewRedactingLogger wraps a logger so that "Error"/"error" attributes lose their text.
func NewRedactingLogger(l *slog.Logger) *slog.Logger {
	return slog.New(&redactingHandler{next: l.Handler()})
}

func (h *redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(red)}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name)}
}

// The SDK renders application errors as "text (type: T, retryable: B)".
var errorType = regexp.MustCompile(`\(type: ([A-Za-z0-9_.*]+), retryable: (true|false)\)`)

func redactAttr(a slog.Attr) slog.Attr {
	if a.Key != "Error" && a.Key != "error" {
		return a
	}
	text := a.Value.Resolve().String()
	if m := errorType.FindAllStringSubmatch(text, -1); len(m) > 0 {
		last := m[len(m)-1]
		return slog.String(a.Key, "redacted (type: "+last[1]+", retryable: "+last[2]+")")
	}
	return slog.String(a.Key, "redacted (see the run's history through the codec server)")
}
