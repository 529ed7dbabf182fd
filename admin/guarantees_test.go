package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ackflow/ackflow/admin"
	"github.com/ackflow/ackflow/guarantee"
	"github.com/ackflow/ackflow/telemetry"
)

func TestGuaranteesEndpoint(t *testing.T) {
	rep := &guarantee.Report{Version: guarantee.ReportVersion, Pipelines: []guarantee.PipelineReport{{
		Name: "g/p", Group: "g", Pipeline: "p",
		Paths: []guarantee.Path{{
			Text: "in → out", Promise: guarantee.PromiseDelivered, AnsweredAt: "out",
			Summary: "answered after out's ack (at least once to out)",
		}},
		Warnings: []guarantee.Warning{{Code: guarantee.WarnCycle, Node: "in"}},
	}}}
	h := admin.New(&fakeEngine{}, telemetry.NewRegistry(), nil, admin.WithGuarantees(rep)).Handler()
	code, body := do(t, h, "GET", "/api/v1/guarantees")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/guarantees = %d %q", code, body)
	}
	var got guarantee.Report
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %q", err, body)
	}
	if got.Version != guarantee.ReportVersion || len(got.Pipelines) != 1 || got.Pipelines[0].Paths[0].Promise != guarantee.PromiseDelivered ||
		got.Warnings() != 1 {
		t.Fatalf("%+v", got)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil || raw["pipelines"] == nil || raw["version"] != float64(1) {
		t.Fatalf("field names: %q", body)
	}
	if code, _ := do(t, h, "POST", "/api/v1/guarantees"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/v1/guarantees = %d, want 405", code)
	}
}

func TestGuaranteesEndpointWithoutReport(t *testing.T) {
	h := admin.New(&fakeEngine{}, telemetry.NewRegistry(), nil).Handler()
	if code, body := do(t, h, "GET", "/api/v1/guarantees"); code != http.StatusNotFound || body == "" {
		t.Fatalf("GET /api/v1/guarantees without a report = %d %q, want 404 saying why", code, body)
	}
}

func TestGuaranteesEndpointNeedsTheToken(t *testing.T) {
	rep := &guarantee.Report{Version: guarantee.ReportVersion}
	h := admin.New(&fakeEngine{}, telemetry.NewRegistry(), nil, admin.WithToken("s3cret-token"), admin.WithGuarantees(rep)).Handler()
	req := httptest.NewRequest("GET", "/api/v1/guarantees", nil)
	if code, _ := send(t, h, req); code != http.StatusUnauthorized {
		t.Fatalf("without the token = %d, want 401", code)
	}
	req = httptest.NewRequest("GET", "/api/v1/guarantees", nil)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	if code, body := send(t, h, req); code != http.StatusOK {
		t.Fatalf("with the token = %d %q", code, body)
	}
}
