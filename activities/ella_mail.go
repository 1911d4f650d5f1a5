package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"text/template"
	"time"

	"go.temporal.io/sdk/activity"
)

// EllaMail is the SMTP side of the ELLA deploy: the server (host:port; STARTTLS when it
// offers it, no authentication), the sender address and a template per EllaMail* name.
type EllaMail struct {
	Addr      string
	From      string
	Templates map[string]EllaMailTemplate
}

// EllaMailTemplate is one e-mail's subject and plain-text body, Go text/templates over
// EllaMailInput (.Version, .Window, .Deadline, .Detail).
type EllaMailTemplate struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// DefaultEllaMailTemplates are the deploy's e-mails in Norwegian, as ELLA's users get them;
// the worker's configuration may replace any of them.
func DefaultEllaMailTemplates() map[string]EllaMailTemplate {
	return map[string]EllaMailTemplate{
		EllaMailPlanned: {Subject: "ELLA oppgraderes til {{.Version}}: nedetid {{.Window}}",
			Body: "ELLA oppgraderes til versjon {{.Version}} og vil være utilgjengelig {{.Window}}.\n"},
		EllaMailAcceptance: {Subject: "ELLA {{.Version}}: akseptansetest kan starte",
			Body: "ELLA {{.Version}} kjører nå. Start akseptansetesten og gi beskjed innen {{.Deadline}}.\n"},
		EllaMailReminder: {Subject: "Påminnelse: akseptansetest av ELLA {{.Version}}",
			Body: "Akseptansetesten av ELLA {{.Version}} mangler fortsatt en beslutning. Fristen er {{.Deadline}}.\n"},
		EllaMailBack: {Subject: "ELLA {{.Version}} er tilbake",
			Body: "ELLA er oppgradert til {{.Version}} og kan brukes som normalt.{{if .Detail}}\n\n{{.Detail}}{{end}}\n"},
		EllaMailRolledBack: {Subject: "ELLA: oppgraderingen til {{.Version}} er rullet tilbake",
			Body: "Oppgraderingen av ELLA til {{.Version}} ble avbrutt og forrige versjon er tatt i bruk igjen.\n\nÅrsak: {{.Detail}}\n\n" +
				"Databasen er gjenopprettet fra sikkerhetskopien tatt før oppgraderingen: det som ble registrert i ELLA etter den " +
				"(under akseptansetesten) er ikke med.\n"},
		EllaMailLeftDown: {Subject: "ELLA er nede: oppgraderingen til {{.Version}} feilet",
			Body: "ELLA er ikke tilgjengelig. En kjerneutvikler jobber med saken.\n\n{{.Detail}}\n"},
		EllaMailHealthAlert: {Subject: "ELLA-varsel: helsesjekken har funnet feil",
			Body: "Helsesjekken av ELLA har funnet feil. Du får én e-post til når alt er i orden igjen.\n\n{{.Detail}}\n"},
		EllaMailHealthCleared: {Subject: "ELLA-varsel opphevet: helsesjekken er i orden igjen",
			Body: "Helsesjekken av ELLA er i orden igjen.\n\n{{.Detail}}\n"},
	}
}

// SendEllaMail sends one templated e-mail; a retry re-sends with the same Message-ID (made
// from the run and the activity), so mail clients show it once. A 5xx reply (a refused
// recipient or message) is ErrEllaMailRefused.
func (a *EllaActivities) SendEllaMail(ctx context.Context, in EllaMailInput) (EllaMailResult, error) {
	tpl, ok := a.Mail.Templates[in.Template]
	if !ok {
		return EllaMailResult{}, permanent(ErrInvalidInput, nil, "no e-mail template %q is configured", in.Template)
	}
	from, err := mail.ParseAddress(a.Mail.From)
	if err != nil {
		return EllaMailResult{}, permanent(ErrInvalidInput, err, "sender %q: %v", a.Mail.From, err)
	}
	if len(in.To) == 0 {
		return EllaMailResult{}, permanent(ErrInvalidInput, nil, "e-mail %q has no recipient", in.Template)
	}
	for _, to := range in.To {
		if p, err := mail.ParseAddress(to); err != nil || p.Address != to {
			return EllaMailResult{}, permanent(ErrInvalidInput, err, "recipient %q is not a bare e-mail address", to)
		}
	}
	subject, err := renderMail(in.Template+" subject", tpl.Subject, in)
	if err != nil {
		return EllaMailResult{}, err
	}
	if strings.ContainsAny(subject, "\r\n") {
		return EllaMailResult{}, permanent(ErrInvalidInput, nil, "e-mail %q: the subject holds a line break", in.Template)
	}
	body, err := renderMail(in.Template+" body", tpl.Body, in)
	if err != nil {
		return EllaMailResult{}, err
	}
	id := ellaMessageID(ctx, in, from.Address)
	msg, err := buildMail(from.String(), in.To, subject, body, id)
	if err != nil {
		return EllaMailResult{}, err
	}
	if err := a.sendSMTP(ctx, from.Address, in.To, msg); err != nil {
		return EllaMailResult{}, err
	}
	return EllaMailResult{MessageID: id}, nil
}

func renderMail(name, text string, in EllaMailInput) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", permanent(ErrInvalidInput, err, "e-mail template %s: %v", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, in); err != nil {
		return "", permanent(ErrInvalidInput, err, "e-mail template %s: %v", name, err)
	}
	return b.String(), nil
}

// ellaMessageID is the same for every attempt of one activity of one run (and its mail).
func ellaMessageID(ctx context.Context, in EllaMailInput, fromAddr string) string {
	key := strings.Join([]string{in.Template, strings.Join(in.To, ","), in.Version, in.Window, in.Deadline, in.Detail}, "\x00")
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		key = info.WorkflowExecution.ID + "\x00" + info.WorkflowExecution.RunID + "\x00" + info.ActivityID + "\x00" + key
	}
	sum := sha256.Sum256([]byte(key))
	domain := "opsflow.invalid"
	if at := strings.LastIndexByte(fromAddr, '@'); at >= 0 {
		domain = fromAddr[at+1:]
	}
	return "<ella-" + hex.EncodeToString(sum[:12]) + "@" + domain + ">"
}

func buildMail(from string, to []string, subject, body, id string) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", time.Now().Format(time.RFC1123Z))
	h("Message-ID", id)
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sendSMTP delivers msg within the activity's deadline (a minute at most per attempt).
func (a *EllaActivities) sendSMTP(ctx context.Context, from string, to []string, msg []byte) error {
	host, _, err := net.SplitHostPort(a.Mail.Addr)
	if err != nil {
		return permanent(ErrInvalidInput, err, "SMTP server %q is not host:port", a.Mail.Addr)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", a.Mail.Addr)
	if err != nil {
		return fmt.Errorf("SMTP server %s: %w", a.Mail.Addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return a.smtpError("greeting", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return a.smtpError("STARTTLS", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return a.smtpError("MAIL FROM", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return a.smtpError("RCPT TO "+rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return a.smtpError("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return a.smtpError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return a.smtpError("end of DATA", err)
	}
	_ = c.Quit()
	return nil
}

// smtpError: a 5xx reply is permanent (ErrEllaMailRefused); anything else may pass on retry.
func (a *EllaActivities) smtpError(step string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return permanent(ErrEllaMailRefused, err, "SMTP server %s refused %s: %d %s", a.Mail.Addr, step, tp.Code, tp.Msg)
	}
	return fmt.Errorf("SMTP server %s: %s: %w", a.Mail.Addr, step, err)
}
