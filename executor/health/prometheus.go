package health

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Prometheus renders the report in the Prometheus text exposition format,
// for node_exporter's textfile collector: tend_health_up{host,check} (1 when
// the check is OK, else 0; a WARNING is 0 too, with its severity left to
// the alert rules), tend_health_latency_seconds{host,check} for the checks
// that timed an answer, and tend_unit_restarts_total{host,unit}, systemd's
// NRestarts.
func Prometheus(r Report) []byte {
	var b bytes.Buffer
	b.WriteString("# HELP tend_health_up Whether the check passed (1) or not (0), as tend check saw it.\n# TYPE tend_health_up gauge\n")
	for _, row := range r.Rows {
		up := 0
		if row.Status == OK {
			up = 1
		}
		fmt.Fprintf(&b, "tend_health_up{host=%s,check=%s} %d\n", labelValue(row.Host), labelValue(row.Check), up)
	}
	b.WriteString("# HELP tend_health_latency_seconds How long the check's answer (or the connection and state read) took.\n# TYPE tend_health_latency_seconds gauge\n")
	for _, row := range r.Rows {
		if row.Latency > 0 {
			fmt.Fprintf(&b, "tend_health_latency_seconds{host=%s,check=%s} %s\n", labelValue(row.Host), labelValue(row.Check),
				strconv.FormatFloat(row.Latency.Seconds(), 'g', -1, 64))
		}
	}
	b.WriteString("# HELP tend_unit_restarts_total How often systemd restarted the unit (NRestarts) since it was started by hand or the host booted.\n# TYPE tend_unit_restarts_total counter\n")
	for _, row := range r.Rows {
		if row.Kind == KindUnit && row.RestartsTotal != nil {
			fmt.Fprintf(&b, "tend_unit_restarts_total{host=%s,unit=%s} %d\n", labelValue(row.Host), labelValue(row.Unit), *row.RestartsTotal)
		}
	}
	return b.Bytes()
}

// labelValue quotes a label value as the text format wants: backslash,
// double quote and line feed escaped.
func labelValue(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
