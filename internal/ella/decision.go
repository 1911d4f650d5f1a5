package ella

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// AcceptanceUpdate is the name of the Temporal Update that carries the testers' decision.
const AcceptanceUpdate = "acceptance"

// Decision is the outcome of the acceptance test in production, given by the person who
// answers for it.
type Decision struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Comment  string `json:"comment,omitempty"`
	// At is set by the workflow when it takes the decision (workflow time), not by the sender.
	At time.Time `json:"at,omitempty"`
}

// Validate refuses a decision without who gave it, or with control characters (a comment
// may span lines).
func (d Decision) Validate() error {
	if strings.TrimSpace(d.By) == "" {
		return errors.New(`acceptance decision refused: "by" (who decides) is missing`)
	}
	if err := checkText("by", d.By, 100); err != nil {
		return fmt.Errorf("acceptance decision refused: %w", err)
	}
	if err := checkText("comment", strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(d.Comment), 2000); err != nil {
		return fmt.Errorf("acceptance decision refused: %w", err)
	}
	return nil
}

// GateState is where the acceptance gate of a deploy is.
type GateState string

// States of the gate: a decision is taken only while it is open, and only one.
const (
	GateNotOpen GateState = "not-open" // ELLA does not run the new version for testers yet
	GateOpen    GateState = "open"     // testers were told to start; waiting for a decision
	GateDecided GateState = "decided"  // a decision was taken
	GateExpired GateState = "expired"  // the deadline passed without a decision
	GateClosed  GateState = "closed"   // the deploy ended before the gate opened
)

// Gate holds the acceptance gate's state and its one decision. A decision that comes before
// the gate opens is refused (there is nothing tested to approve or reject yet); so is a
// second one, and one after the deadline.
type Gate struct {
	State    GateState `json:"state"`
	Deadline time.Time `json:"deadline,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
}

// Check says whether the gate would take d now (the Update's validator).
func (g *Gate) Check(d Decision) error {
	if err := d.Validate(); err != nil {
		return err
	}
	switch g.State {
	case GateOpen:
		return nil
	case GateDecided:
		verdict := "rejected"
		if g.Decision.Approved {
			verdict = "approved"
		}
		return fmt.Errorf("acceptance decision refused: already %s by %s", verdict, g.Decision.By)
	case GateExpired:
		return fmt.Errorf("acceptance decision refused: the deadline %s passed; the deploy is rolled back",
			g.Deadline.UTC().Format(time.RFC3339))
	case GateClosed:
		return errors.New("acceptance decision refused: the deploy ended before the acceptance test started")
	default:
		return errors.New("acceptance decision refused: the acceptance test has not started yet (the deploy is still running its steps); decide once the testers are told to start")
	}
}

// Decide takes d at time at, or refuses it as Check does.
func (g *Gate) Decide(d Decision, at time.Time) error {
	if err := g.Check(d); err != nil {
		return err
	}
	d.At = at
	g.Decision, g.State = &d, GateDecided
	return nil
}
