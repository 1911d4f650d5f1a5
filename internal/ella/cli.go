package ella

import (
	"errors"
	"fmt"
	"strconv"
)

// CLI builds ella-cli command lines as argument lists, never shell strings: Prefix is the
// configured command that runs ella-cli (SingularityPrefix in production, a stand-in in
// tests), and each method appends a subcommand and its arguments as separate elements.
type CLI struct {
	Prefix []string
}

// SingularityPrefix runs ella-cli from the image the production symlink points at
// (e.g. <dir>/ella-prod/ella.sif), the way prod-cli.sh does.
func SingularityPrefix(image string) []string {
	return []string{"singularity", "exec", image, "ella-cli"}
}

// NewCLI checks the configured prefix: not empty, no empty element.
func NewCLI(prefix []string) (CLI, error) {
	if len(prefix) == 0 {
		return CLI{}, errors.New("ella-cli command is not configured (an empty argument list)")
	}
	for i, p := range prefix {
		if p == "" {
			return CLI{}, fmt.Errorf("ella-cli command %q has an empty argument at %d", prefix, i)
		}
	}
	return CLI{Prefix: append([]string(nil), prefix...)}, nil
}

func (c CLI) cmd(args ...string) []string {
	return append(append(make([]string, 0, len(c.Prefix)+len(args)), c.Prefix...), args...)
}

// BroadcastNew shows msg to every user at once (checked by CheckBroadcast; passed as one
// argument, untouched).
func (c CLI) BroadcastNew(msg string) ([]string, error) {
	if err := CheckBroadcast(msg); err != nil {
		return nil, err
	}
	return c.cmd("broadcast", "new", msg), nil
}

// BroadcastDeactivate hides the broadcast with this id.
func (c CLI) BroadcastDeactivate(id int64) []string {
	return c.cmd("broadcast", "deactivate", strconv.FormatInt(id, 10))
}

// BroadcastList lists the active broadcasts.
func (c CLI) BroadcastList() []string { return c.cmd("broadcast", "list") }

// DatabaseCompare exits 1 when the database is not at the image's migration head.
func (c CLI) DatabaseCompare() []string { return c.cmd("database", "compare") }

// DatabaseUpgradeHead migrates the database to the image's head.
func (c CLI) DatabaseUpgradeHead() []string { return c.cmd("database", "upgrade", "head") }

// Config loads a config file given by its path: `users add_groups <file>` for user groups,
// `filterconfigs update <file>` for filter configs.
func (c CLI) Config(kind, path string) ([]string, error) {
	switch kind {
	case ConfigUserGroups:
		return c.cmd("users", "add_groups", path), nil
	case ConfigFilterConfigs:
		return c.cmd("filterconfigs", "update", path), nil
	}
	return nil, fmt.Errorf("config kind %q is neither %s nor %s", kind, ConfigUserGroups, ConfigFilterConfigs)
}

// ImageArg is the element of a configured ella-cli prefix that stands for the image to run
// ella-cli from (e.g. singularity exec {image} ella-cli): the production symlink for the
// deploy's commands, the new image for the pre-flight's `database compare`.
const ImageArg = "{image}"

// ForImage is the CLI with every ImageArg element replaced by image. A prefix without
// ImageArg cannot run the new image's `database compare` before the switch: an error.
func (c CLI) ForImage(image string) (CLI, error) {
	out := CLI{Prefix: make([]string, len(c.Prefix))}
	found := false
	for i, p := range c.Prefix {
		if p == ImageArg {
			p, found = image, true
		}
		out.Prefix[i] = p
	}
	if !found {
		return CLI{}, fmt.Errorf("ella-cli command %q has no %s argument for the image to run", c.Prefix, ImageArg)
	}
	return out, nil
}
