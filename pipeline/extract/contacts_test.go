package extract

import (
	"context"
	"fmt"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// TestReadContacts: contact fields and consent are read as the run reads
// its customers: the latest version at or before the as-of date, no
// suppressed customer, no customer of another shard, ids normalised, bad
// rows skipped, consent as 1/0/-1.
func TestReadContacts(t *testing.T) {
	b := objstore.NewMem()
	upload(t, b, "customers/c.csv", `id,signup,updated,mail,ok
 k1 ,2024-01-01,2024-01-01,old@example.com,true
k1,2024-01-01,2024-03-01,new@example.com,false
k1,2024-01-01,2024-09-01,future@example.com,true
k2,2024-01-01,2024-01-01,k2@example.com,maybe
k3,2024-08-01,2024-08-01,late@example.com,true
k4,bad-date,2024-01-01,bad@example.com,true
k5,2024-01-01,2024-01-01,gone@example.com,true
,2024-01-01,2024-01-01,noid@example.com,true
k6,2024-01-01,2024-01-01,,
`)
	upload(t, b, "erasure/ids.csv", "customer_id\nk5\n")
	cust := &Table{Bucket: b, Prefix: "customers", Columns: map[string]string{"customer_id": "id", "signup_ts": "signup", "updated_at": "updated"}}
	spec := Spec{AsOf: mustDay("2024-06-30"), Customers: cust, Rules: &Rules{IDs: DefaultIDs},
		Suppression: &Table{Bucket: b, Prefix: "erasure", Columns: map[string]string{"customer_id": "customer_id"}}}
	got, err := ReadContacts(context.Background(), spec, map[string]string{"email": "mail"}, map[string]string{"email_opt_in": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	render := func(m map[string]*ContactRecord) string {
		s := ""
		for _, id := range []string{"k1", "k2", "k3", "k4", "k5", "k6", ""} {
			if r, ok := m[id]; ok {
				s += fmt.Sprintf("%s:%s:%d ", id, r.Fields["email"], r.Consent["email_opt_in"])
			}
		}
		return s
	}
	if s, want := render(got), "k1:new@example.com:0 k2:k2@example.com:-1 k6::-1 "; s != want {
		t.Errorf("contacts %q, want %q", s, want)
	}

	// A shard reads its own customers only; together, all of them.
	union := map[string]*ContactRecord{}
	for i := range 2 {
		spec.Keep = Part(i, 2)
		part, err := ReadContacts(context.Background(), spec, map[string]string{"email": "mail"}, map[string]string{"email_opt_in": "ok"})
		if err != nil {
			t.Fatal(err)
		}
		for id := range part {
			if !spec.Keep.ID(id) {
				t.Errorf("shard %d read %s", i, id)
			}
		}
		for id, r := range part {
			union[id] = r
		}
	}
	if s, want := render(union), "k1:new@example.com:0 k2:k2@example.com:-1 k6::-1 "; s != want {
		t.Errorf("shards' contacts %q, want %q", s, want)
	}
}
