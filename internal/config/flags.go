package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Flags binds settings to the flags of one FlagSet, each with an OPSFLOW_* variable as its
// default: flags win over the environment, the environment over the built-in default. A
// typed variable that does not parse (a boolean "ture", a duration "3") is kept as an error
// that Err reports; it never silently falls back to a default or to false. An empty
// variable counts as unset.
type Flags struct {
	fs   *flag.FlagSet
	errs []error
}

// NewFlags binds settings to fs.
func NewFlags(fs *flag.FlagSet) *Flags { return &Flags{fs: fs} }

// Err reports every OPSFLOW_* value that did not parse.
func (f *Flags) Err() error {
	if f == nil {
		return nil
	}
	return errors.Join(f.errs...)
}

// String binds a string setting.
func (f *Flags) String(p *string, name, env, usage string) {
	*p = Env(env, *p)
	f.fs.StringVar(p, name, *p, usage+" (env "+env+")")
}

// Bool binds a yes/no setting; the flag and the variable take the values ParseBool takes.
func (f *Flags) Bool(p *bool, name, env, usage string) {
	if v, ok := lookupEnv(env); ok {
		if b, err := ParseBool(v); err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a boolean (use true/false, yes/no or 1/0)", env, v))
		} else {
			*p = b
		}
	}
	f.fs.Var(boolFlag{p}, name, usage+" (env "+env+")")
}

// Duration binds a duration setting (30s, 15m, 2h).
func (f *Flags) Duration(p *time.Duration, name, env, usage string) {
	if v, ok := lookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a duration (e.g. 30s, 15m, 2h)", env, v))
		} else {
			*p = d
		}
	}
	f.fs.DurationVar(p, name, *p, usage+" (env "+env+")")
}

// Int binds an integer setting.
func (f *Flags) Int(p *int, name, env, usage string) {
	if v, ok := lookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not an integer", env, v))
		} else {
			*p = n
		}
	}
	f.fs.IntVar(p, name, *p, usage+" (env "+env+")")
}

// Env returns the variable key, or def when it is unset or empty. It is the one reader of
// OPSFLOW_* variables that are not flags (OPSFLOW_STACK_DIR, the demo supervisord).
func Env(key, def string) string {
	if v, ok := lookupEnv(key); ok {
		return v
	}
	return def
}

// lookupEnv returns a variable that is set and not empty; empty counts as unset.
func lookupEnv(key string) (string, bool) {
	v, ok := os.LookupEnv(key)
	return v, ok && v != ""
}

// ParseBool reads a yes/no setting: strconv.ParseBool's values (1, t, true, 0, f, false in
// any of its spellings) and yes/no in any case. Anything else is an error, so a typo never
// quietly turns a protection off.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (use true/false, yes/no or 1/0)", s)
	}
	return v, nil
}

// boolFlag is a flag.Value for ParseBool, so the flag takes the same values as the variable.
type boolFlag struct{ p *bool }

func (b boolFlag) String() string {
	if b.p == nil {
		return "false"
	}
	return strconv.FormatBool(*b.p)
}

func (b boolFlag) Set(s string) error {
	v, err := ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = v
	return nil
}

func (b boolFlag) IsBoolFlag() bool { return true }
