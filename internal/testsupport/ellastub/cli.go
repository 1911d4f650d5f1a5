package ellastub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// exitCompare is `database compare`'s exit status when the database is not at the image's
// head, as ELLA's.
const exitCompare = 1

// errUsage is a command line the stand-in does not know (exit status 2, like click's).
var errUsage = errors.New("usage")

// RunCLI runs one ella-cli command from the image at imagePath against $DB_URL, writing what
// ELLA writes, and returns the exit status.
func RunCLI(ctx context.Context, imagePath string, args []string, stdout, stderr io.Writer) int {
	img, err := ReadImage(imagePath)
	if err != nil {
		fmt.Fprintln(stderr, "ella-cli:", err)
		return 1
	}
	dbURL := os.Getenv("DB_URL")
	if dbURL == "" {
		fmt.Fprintln(stderr, "ella-cli: DB_URL is not set")
		return 1
	}
	c := cli{ctx: ctx, img: img, db: dbURL, out: stdout}
	code, err := c.run(args)
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "ella-cli: unknown command %q\n", strings.Join(args, " "))
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "ella-cli:", err)
		return 1
	}
	return code
}

type cli struct {
	ctx context.Context
	img Image
	db  string
	out io.Writer
}

func (c cli) sql(script string, vars map[string]string) (string, error) {
	return PSQL(c.ctx, c.db, script, vars)
}

func (c cli) run(args []string) (int, error) {
	if len(args) < 2 {
		return 0, errUsage
	}
	switch args[0] + " " + args[1] {
	case "broadcast new":
		// click joins the message's words (nargs=-1), as ELLA does.
		msg := strings.Join(args[2:], " ")
		if msg == "" {
			fmt.Fprintln(c.out, "Message empty")
			return 0, nil
		}
		id, err := c.sql(`INSERT INTO broadcast (message, active) VALUES (:'msg', true) RETURNING id;`, map[string]string{"msg": msg})
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(c.out, "Message with id %s added\n", id)
	case "broadcast deactivate":
		if len(args) != 3 {
			return 0, errUsage
		}
		id, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("message_id %q is not an integer", args[2])
		}
		n, err := c.sql(`WITH u AS (UPDATE broadcast SET active = false WHERE id = :'id' RETURNING id) SELECT count(*) FROM u;`,
			map[string]string{"id": strconv.FormatInt(id, 10)})
		if err != nil {
			return 0, err
		}
		if n == "0" {
			fmt.Fprintf(c.out, "Found no message with id %d\n", id)
		} else {
			fmt.Fprintf(c.out, "Message with id %d set as inactive\n", id)
		}
	case "broadcast list":
		return 0, c.list()
	case "database compare":
		return c.compare()
	case "database upgrade":
		if len(args) != 3 || args[2] != "head" {
			return 0, errUsage
		}
		return 0, c.upgrade()
	case "users add_groups":
		return 0, c.load(args, "usergroup", "config")
	case "filterconfigs update":
		return 0, c.load(args, "filterconfig", "filterconfig")
	default:
		return 0, errUsage
	}
	return 0, nil
}

// list prints the active broadcasts in ELLA's table format.
func (c cli) list() error {
	rows, err := c.sql(`SELECT id, to_char(date_created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), active, message
FROM broadcast WHERE active ORDER BY id;`, nil)
	if err != nil {
		return err
	}
	if rows == "" {
		fmt.Fprintln(c.out, "No messages")
		return nil
	}
	row := func(id, date, active, msg string) {
		fmt.Fprintf(c.out, " %s | %s | %-10s | %-80s |\n", center(id, 5), center(date, 33), active, msg)
	}
	row("id", "date", "active", "message")
	row(strings.Repeat("-", 5), strings.Repeat("-", 33), strings.Repeat("-", 10), strings.Repeat("-", 80))
	for _, line := range strings.Split(rows, "\n") {
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 {
			return fmt.Errorf("unexpected broadcast row %q", line)
		}
		row(f[0], f[1], map[string]string{"t": "true", "f": "false"}[f[2]], f[3])
	}
	return nil
}

// center pads s to width like Python's "{:^width}".
func center(s string, width int) string {
	pad := width - len([]rune(s))
	if pad <= 0 {
		return s
	}
	return strings.Repeat(" ", pad/2) + s + strings.Repeat(" ", pad-pad/2)
}

// dbRevision is the database's alembic revision ("" for a database without ELLA's tables).
func (c cli) dbRevision() (string, error) {
	exists, err := c.sql(`SELECT to_regclass('alembic_version') IS NOT NULL;`, nil)
	if err != nil || exists != "t" {
		return "", err
	}
	return c.sql(`SELECT coalesce(max(version_num), '') FROM alembic_version;`, nil)
}

func (c cli) compare() (int, error) {
	rev, err := c.dbRevision()
	if err != nil {
		return 0, err
	}
	if rev != c.img.Head {
		fmt.Fprintf(c.out, "Migration mismatch: database is at %q, the migration scripts' head (ELLA %s) is %q\n", rev, c.img.Version, c.img.Head)
		return exitCompare, nil
	}
	fmt.Fprintf(c.out, "Database is at the migration head %s (ELLA %s)\n", rev, c.img.Version)
	return 0, nil
}

// upgrade applies the revisions after the database's up to the image's head, in one
// transaction; a database ahead of the image (a revision the image does not know) fails.
func (c cli) upgrade() error {
	rev, err := c.dbRevision()
	if err != nil {
		return err
	}
	from, to := -1, revisionIndex(c.img.Head)
	if rev != "" {
		if from = revisionIndex(rev); from < 0 || from > to {
			return fmt.Errorf("database revision %q is unknown to ELLA %s (head %s)", rev, c.img.Version, c.img.Head)
		}
	}
	var script strings.Builder
	for _, r := range Revisions[from+1 : to+1] {
		fmt.Fprintf(c.out, "Running upgrade %s -> %s\n", rev, r.ID)
		script.WriteString(r.SQL)
		rev = r.ID
	}
	if script.Len() == 0 {
		return nil
	}
	_, err = c.sql(script.String(), nil)
	return err
}

// load upserts the named objects of a JSON array file (each with a "name") into table.
func (c cli) load(args []string, table, column string) error {
	if len(args) != 3 {
		return errUsage
	}
	data, err := os.ReadFile(args[2])
	if err != nil {
		return err
	}
	n, err := c.sql(`WITH d AS (SELECT e->>'name' AS name, e FROM jsonb_array_elements(:'doc'::jsonb) e),
u AS (INSERT INTO `+table+` (name, `+column+`) SELECT name, e FROM d
      ON CONFLICT (name) DO UPDATE SET `+column+` = EXCLUDED.`+column+` RETURNING 1)
SELECT count(*) FROM u;`, map[string]string{"doc": string(data)})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "Added or updated %s %s entries from %s\n", n, table, args[2])
	return nil
}
