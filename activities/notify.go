package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Notice tells operators that a run needs a person. It carries no payload contents (error
// texts can name samples): the procedure, the step, the error type and a link to the run,
// where the full story is readable through the codec server.
type Notice struct {
	Kind       string `json:"kind"` // "failed" or "stuck"
	Procedure  string `json:"procedure"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
	Step       string `json:"step"`
	ErrorType  string `json:"errorType,omitempty"`
	// Since is how long the run has made no progress (stuck notices).
	Since string `json:"since,omitempty"`
	// Link is filled by the activity from the configured Web UI address.
	Link string `json:"link"`
}

// NotifyActivities deliver notices to the operators' webhook (chat, paging or mail gateway).
type NotifyActivities struct {
	WebhookURL string
	UIURL      string
	Namespace  string
	HTTP       *http.Client
}

// NotifyOperators posts the notice as JSON; without a webhook configured it only reports
// that nobody was told, so a run never fails for lack of a notification channel.
func (a *NotifyActivities) NotifyOperators(ctx context.Context, n Notice) (string, error) {
	n.Link = strings.TrimRight(a.UIURL, "/") + "/namespaces/" + a.Namespace + "/workflows/" + n.WorkflowID + "/" + n.RunID
	if a.WebhookURL == "" {
		return "no webhook configured (OPSFLOW_NOTIFY_WEBHOOK): nobody notified", nil
	}
	body, err := json.Marshal(map[string]any{
		"text":   fmt.Sprintf("opsflow: %s run %s is %s at step %q %s", n.Procedure, n.WorkflowID, n.Kind, n.Step, n.Link),
		"notice": n,
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return "", permanent(ErrInvalidWebhook, err, "webhook URL %q: %v", a.WebhookURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := a.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("notify webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("notify webhook answered HTTP %d", resp.StatusCode)
	}
	return "webhook notified", nil
}
