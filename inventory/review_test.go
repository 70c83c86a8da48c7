package inventory

import "testing"

// TestReview_HostRangesBoundedInAll: each range of a host pattern is
// bounded (100000), but a pattern with several ranges multiplies them:
// "h[0:99999][0:99999]" would be 10^10 names, exhausting the controller's
// memory. The product must be refused with a problem, as one large range
// is.
func TestReview_HostRangesBoundedInAll(t *testing.T) {
	hosts, _, problem := expandHostPattern("h[0:999][0:999]")
	if problem == "" {
		t.Fatalf("a pattern of %d hosts (over the 100000 a single range may have) was expanded without a problem", len(hosts))
	}
}
