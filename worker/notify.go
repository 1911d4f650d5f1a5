package main

import "github.com/opsflow/opsflow/activities"

// registerNotify wires the notices every procedure sends when a run fails or is stuck.
func registerNotify(h *host) error {
	if h.central == nil {
		return nil
	}
	h.central.RegisterActivity(&activities.NotifyActivities{WebhookURL: h.cfg.NotifyWebhook, UIURL: h.cfg.Temporal.UIURL,
		Namespace: h.cfg.Temporal.Namespace})
	return nil
}
