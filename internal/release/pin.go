package release

import (
	"encoding/json"
	"time"
)

// DefaultPinFor is how long a pin lasts when the run gives no end (runs started before pins
// existed; a ReleaseDeploy run always passes its own end).
const DefaultPinFor = 24 * time.Hour

// Pin is a rollback pin, releases/.pins/<run>.json: the versions a run may still switch the
// site back to, and until when it may. A site's releases/ can be touched by more than one run
// (a run started before the site lock, a lock an operator terminated), so each run pins the
// versions it may roll back to and no other run's clean-up removes them.
type Pin struct {
	Run   string    `json:"run"`
	Keep  []string  `json:"keep"`
	Until time.Time `json:"until"`
}

// NewPin pins the non-empty versions for run until until (zero: DefaultPinFor from now).
func NewPin(run string, until, now time.Time, versions ...string) Pin {
	if until.IsZero() {
		until = now.Add(DefaultPinFor)
	}
	p := Pin{Run: run, Until: until.UTC()}
	for _, v := range versions {
		if v != "" {
			p.Keep = append(p.Keep, v)
		}
	}
	return p
}

// Expired tells a pin whose run can no longer roll back.
func (p Pin) Expired(now time.Time) bool { return now.After(p.Until) }

// Marshal is the pin's file content.
func (p Pin) Marshal() ([]byte, error) { return json.Marshal(p) }

// ParsePin reads a pin file's content.
func ParsePin(data []byte) (Pin, error) {
	var p Pin
	err := json.Unmarshal(data, &p)
	return p, err
}
