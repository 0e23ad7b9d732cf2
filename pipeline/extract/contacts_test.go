package extract

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/strcol"
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
	// The run's customers (k3 signed up later, k4's row is bad, k5 is
	// suppressed: the run has none of them, but a dataset may list ids the
	// customers table does not give, like k7, known from orders).
	ds := &Dataset{IDs: strcol.Of("k1", "k2", "k3", "k4", "k5", "k6", "k7")}
	render := func(c *Contacts, ids []string) string {
		s := ""
		for i, id := range ids {
			s += fmt.Sprintf("%s:%s:%d ", id, c.Fields["email"].At(i), c.Consent["email_opt_in"][i])
		}
		return s
	}
	read := func(ds *Dataset) *Contacts {
		t.Helper()
		c, err := ReadContacts(context.Background(), spec, ds, map[string]string{"email": "mail"}, map[string]string{"email_opt_in": "ok"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	want := "k1:new@example.com:0 k2:k2@example.com:-1 k3::-1 k4::-1 k5::-1 k6::-1 k7::-1 "
	if s := render(read(ds), ds.IDs.Strings()); s != want {
		t.Errorf("contacts %q, want %q", s, want)
	}

	// A shard reads its own customers only; together, all of them.
	var union []string
	for i := range 2 {
		spec.Keep = Part(i, 2)
		var mine []string
		for _, id := range ds.IDs.All() {
			if spec.Keep.ID(id) {
				mine = append(mine, id)
			}
		}
		// Given every id, a shard still fills only its own.
		c := read(ds)
		for r, id := range ds.IDs.All() {
			if !spec.Keep.ID(id) && (c.Fields["email"].At(r) != "" || c.Consent["email_opt_in"][r] != -1) {
				t.Errorf("shard %d read %s", i, id)
			}
		}
		part := read(&Dataset{IDs: strcol.Of(mine...)})
		union = append(union, strings.Fields(render(part, mine))...)
	}
	slices.Sort(union)
	if s := strings.Join(union, " ") + " "; s != want {
		t.Errorf("shards' contacts %q, want %q", s, want)
	}
}
