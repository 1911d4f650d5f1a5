package ella

import (
	"fmt"
	"strings"
	"time"
)

// Step statuses in a deploy's record.
const (
	StepOK      = "ok"
	StepFailed  = "failed"
	StepSkipped = "skipped"
	StepWarning = "warning" // failed, but the deploy went on (an e-mail, a reminder)
)

// Step is one step of a deploy as it happened: what ran, how it ended, and what it found.
type Step struct {
	Name     string    `json:"name"`
	Status   string    `json:"status"`
	Detail   string    `json:"detail,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// Outcomes of a deploy.
const (
	OutcomeApproved   = "approved"    // the new version runs
	OutcomeRejected   = "rejected"    // testers rejected it; the previous version runs again
	OutcomeExpired    = "expired"     // no decision before the deadline; the previous version runs again
	OutcomeRolledBack = "rolled-back" // a step failed after the stop; the previous version runs again
	OutcomeRefused    = "refused"     // a step before the stop failed; nothing was stopped
	OutcomeLeftDown   = "left-down"   // the rollback failed too; ELLA needs a person
)

// Record is what the change record is made of: the deploy's input, its steps and outcome.
type Record struct {
	Input         DeployInput `json:"input"`
	PreviousImage string      `json:"previousImage,omitempty"`
	Migrated      bool        `json:"migrated"`
	Backup        string      `json:"backup,omitempty"`
	Decision      *Decision   `json:"decision,omitempty"`
	Deadline      time.Time   `json:"deadline,omitempty"`
	Outcome       string      `json:"outcome"`
	Steps         []Step      `json:"steps"`
	Started       time.Time   `json:"started"`
	Finished      time.Time   `json:"finished"`
}

// outcomeText says each outcome in a sentence of the record.
var outcomeText = map[string]string{
	OutcomeApproved:   "Approved in the acceptance test; the new version runs in production.",
	OutcomeRejected:   "Rejected in the acceptance test; rolled back, the previous version runs.",
	OutcomeExpired:    "No acceptance decision before the deadline; rolled back, the previous version runs.",
	OutcomeRolledBack: "A step failed after ELLA was stopped; rolled back, the previous version runs.",
	OutcomeRefused:    "A check before the stop failed; ELLA was not stopped and runs as before.",
	OutcomeLeftDown:   "The rollback failed; ELLA may be stopped and needs a core developer.",
}

// RestoredBackup says whether a deploy with this outcome restored the backup taken before the
// new version started, discarding what was written in ELLA since (the documented data loss).
func RestoredBackup(outcome string) bool {
	switch outcome {
	case OutcomeRejected, OutcomeExpired, OutcomeRolledBack:
		return true
	}
	return false
}

// ChangeRecord renders the "Endringskontroll for endringer av ELLA" of a deploy as Markdown,
// from its record alone (the same record gives the same text).
func ChangeRecord(r Record) string {
	var b strings.Builder
	in := r.Input
	b.WriteString(fmt.Sprintf("# Endringskontroll for endringer av ELLA: %s\n\n", md(in.Version)))
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { b.WriteString(fmt.Sprintf("| %s | %s |\n", k, md(v))) }
	row("Version", in.Version)
	row("Image", ReleasesDir+"/"+in.Image)
	row("SHA-256", in.SHA256)
	row("Previous image", or(r.PreviousImage, "unknown"))
	row("Planned window", in.Window)
	row("Started", stamp(r.Started))
	row("Finished", stamp(r.Finished))
	row("Database migrated", yesNo(r.Migrated))
	row("Database backup", or(r.Backup, "none"))
	var cfg []string
	for _, c := range in.ConfigFiles() {
		cfg = append(cfg, c.Kind+": "+c.Name)
	}
	row("Config files", or(strings.Join(cfg, ", "), "none"))
	row("Users told", strings.Join(in.Users, ", "))
	row("Testers", strings.Join(in.Testers, ", "))
	if in.Change != "" {
		b.WriteString(fmt.Sprintf("\n## Change\n\n%s\n", mdBlock(in.Change)))
	}
	b.WriteString("\n## Acceptance test in production\n\n")
	if d := r.Decision; d != nil {
		verdict := "Rejected"
		if d.Approved {
			verdict = "Approved"
		}
		b.WriteString(fmt.Sprintf("%s by %s at %s.\n", verdict, md(d.By), stamp(d.At)))
		if d.Comment != "" {
			b.WriteString(fmt.Sprintf("\n> %s\n", strings.ReplaceAll(mdBlock(d.Comment), "\n", "\n> ")))
		}
	} else if !r.Deadline.IsZero() {
		b.WriteString(fmt.Sprintf("No decision before the deadline %s.\n", stamp(r.Deadline)))
	} else {
		b.WriteString("Not reached.\n")
	}
	b.WriteString(fmt.Sprintf("\n## Outcome\n\n**%s**: %s\n", r.Outcome, or(outcomeText[r.Outcome], "unknown outcome")))
	if RestoredBackup(r.Outcome) && r.Backup != "" {
		b.WriteString(fmt.Sprintf("\n**Data loss:** the database was restored from %s. Anything written in ELLA after that "+
			"backup (during the acceptance test) is not in the restored database.\n", md(r.Backup)))
	}
	b.WriteString("\n## Steps\n\n| # | Step | Status | Started | Finished | Detail |\n|---|---|---|---|---|---|\n")
	for i, s := range r.Steps {
		b.WriteString(fmt.Sprintf("| %d | %s | %s | %s | %s | %s |\n", i+1, md(s.Name), md(s.Status), stamp(s.Started), stamp(s.Finished), md(s.Detail)))
	}
	return b.String()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// md escapes a value for one table cell: no line breaks, no cell separators, no markup.
var mdCell = strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`, "\\", `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)

func md(s string) string { return mdCell.Replace(s) }

// mdBlock escapes a free text paragraph, keeping its line breaks.
func mdBlock(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r", ""), "\n")
	for i, l := range lines {
		lines[i] = md(l)
		if strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
			lines[i] = `\` + strings.TrimSpace(lines[i])
		}
	}
	return strings.Join(lines, "\n")
}
