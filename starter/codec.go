package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/internal/codec"
	"github.com/opsflow/opsflow/internal/config"
)

// runCodecServer serves /encode and /decode so the Web UI and `temporal --codec-endpoint`
// show decrypted payloads to people who hold the token.
func runCodecServer(args []string) error {
	fs := flag.NewFlagSet("codec-server", flag.ContinueOnError)
	f := config.NewFlags(fs)
	listen, keys, tokenFile, origins := "127.0.0.1:8234", config.Codec{}, "", "http://127.0.0.1:8233,http://localhost:8233"
	f.String(&listen, "listen", "OPSFLOW_CODEC_LISTEN", "address to serve on")
	f.String(&keys.KeysFile, "codec-keys-file", "OPSFLOW_CODEC_KEYS_FILE", "keys file")
	f.String(&keys.Keys, "codec-keys", "OPSFLOW_CODEC_KEYS", "keys")
	f.String(&tokenFile, "token-file", "OPSFLOW_CODEC_TOKEN_FILE", "file holding the bearer token")
	f.String(&origins, "ui-origins", "OPSFLOW_CODEC_UI_ORIGINS", "Web UI origins allowed by CORS")
	pathToken := false
	f.Bool(&pathToken, "ui-path-token", "OPSFLOW_CODEC_UI_PATH_TOKEN",
		"also accept the token as the first path segment (/<token>/decode), for a dev server's Web UI that cannot send headers; off: only Authorization: Bearer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ring, err := codec.LoadKeyring(keys.KeysFile, keys.Keys)
	if err != nil {
		return err
	}
	if tokenFile == "" {
		return errors.New("codec-server: --token-file is required: the server never decrypts for anonymous callers")
	}
	if err := codec.PrivateFile(tokenFile); err != nil {
		return fmt.Errorf("codec-server: token file: %w", err)
	}
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("codec-server: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if len(token) < 16 {
		return fmt.Errorf("codec-server: token in %s is shorter than 16 characters", tokenFile)
	}
	srv := &http.Server{
		Addr:              listen,
		Handler:           codec.NewServer(ring, codec.ServerOptions{Token: token, AllowedOrigins: strings.Split(origins, ","), UIPathToken: pathToken}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("codec server on http://%s (active key %s)\n", listen, ring.ActiveKeyID())
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runCodecKey prints a new key line for the keys file.
func runCodecKey(args []string) error {
	fs := flag.NewFlagSet("codec-key", flag.ContinueOnError)
	id := fs.String("id", time.Now().UTC().Format("2006-01-02"), "key id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	line, err := codec.GenerateKey(*id)
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}
