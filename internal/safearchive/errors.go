package safearchive

import "fmt"

// UnsafeEntryError reports an archive entry that was refused, so an operator can see
// which entry of which release was hostile or malformed, and why.
type UnsafeEntryError struct {
	Entry  string // the entry name as stored in the archive
	Reason string
}

// Error names the entry first, as operators search logs for it.
func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("unsafe archive entry %q: %s", e.Entry, e.Reason)
}

func unsafeEntry(entry, reason string) error {
	return &UnsafeEntryError{Entry: entry, Reason: reason}
}

// refuseInsecure explains a name archive/tar itself flagged as non-local.
func refuseInsecure(name string) error {
	if reason := unsafePathReason(name); reason != "" {
		return unsafeEntry(name, reason)
	}
	return unsafeEntry(name, "path is not local to the target directory")
}
