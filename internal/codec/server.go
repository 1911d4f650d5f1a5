package codec

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec server that lets the Web UI and the CLI show decrypted
// payloads to people who hold the token.
type ServerOptions struct {
	// Token is required from every caller as `Authorization: Bearer <token>` (the CLI's
	// --codec-auth). A token anywhere in the URL is refused, unless UIPathToken.
	Token string
	// UIPathToken also accepts the token as the first path segment /<token>/, for the Web UI
	// of a dev server, whose codec endpoint cannot add headers without an identity provider.
	// Off by default: a token in a URL ends up in browser history and proxy logs.
	UIPathToken bool
	// AllowedOrigins are the Web UI origins allowed by CORS, e.g. http://127.0.0.1:8233.
	AllowedOrigins []string
}

// NewServer returns the HTTP handler serving POST /encode and /decode.
func NewServer(keys *Keyring, opts ServerOptions) http.Handler {
	codecHandler := converter.NewPayloadCodecHTTPHandler(&Codec{Keys: keys})
	allowed := map[string]bool{}
	for _, o := range opts.AllowedOrigins {
		allowed[strings.TrimRight(o, "/")] = true // a trailing slash never matches an Origin header
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); allowed[origin] {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent) // preflight carries no credentials
			return
		}
		path, ok := authorize(r, opts.Token, opts.UIPathToken)
		if !ok {
			http.Error(w, "codec server: missing or wrong token", http.StatusUnauthorized)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = path
		codecHandler.ServeHTTP(w, r2)
	})
}

// authorize checks the token and returns the request path without a token segment.
func authorize(r *http.Request, token string, pathToken bool) (string, bool) {
	if token == "" {
		return "", false // never serve decryption without a token
	}
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		if equal(strings.TrimPrefix(auth, "Bearer "), token) {
			return r.URL.Path, true
		}
		return "", false
	}
	if !pathToken {
		return "", false
	}
	seg, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if equal(seg, token) {
		return "/" + rest, true
	}
	return "", false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
