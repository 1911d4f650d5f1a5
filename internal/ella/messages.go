package ella

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AcceptanceTestMessage is the broadcast of the seed's step 9, word for word: ELLA runs the
// new version and only testers should use it.
const AcceptanceTestMessage = "Akseptansetest pågår, vennligst vent med å bruke ELLA som normal til du får beskjed."

// RolledBackMessage is broadcast after a rollback: the previous version runs again.
const RolledBackMessage = "Oppgraderingen av ELLA ble avbrutt og forrige versjon er tatt i bruk igjen. ELLA kan brukes som normalt."

// MaxBroadcastRunes bounds a broadcast: it is a banner in every user's browser.
const MaxBroadcastRunes = 500

// DowntimeMessage is the default broadcast announcing the planned downtime of a deploy.
func DowntimeMessage(version, window string) string {
	return fmt.Sprintf("ELLA oppgraderes til versjon %s og vil være utilgjengelig %s.", version, window)
}

// CheckBroadcast refuses a broadcast message that is empty, too long, not UTF-8 or holds a
// control character (a newline included), or that starts with "-" (ella-cli would read it
// as an option). Shell metacharacters are allowed: the message is one argv element of a
// command run without a shell, so `$(...)`, quotes and ";" are shown as typed.
func CheckBroadcast(msg string) error {
	if strings.TrimSpace(msg) == "" {
		return errors.New("broadcast message is empty")
	}
	if strings.HasPrefix(msg, "-") {
		return errors.New("broadcast message starts with \"-\", which ella-cli would read as an option")
	}
	return checkText("broadcast message", msg, MaxBroadcastRunes)
}

// checkText refuses invalid UTF-8, control characters and more than max runes.
func checkText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s has %d characters, more than %d", field, n, max)
	}
	for i, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s holds control character %U at byte %d", field, r, i)
		}
	}
	return nil
}
