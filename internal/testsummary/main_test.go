package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := `{"Action":"start","Package":"a"}
{"Action":"run","Package":"a","Test":"TestFast"}
{"Action":"output","Package":"a","Test":"TestFast","Output":"=== RUN   TestFast\n"}
{"Action":"pass","Package":"a","Test":"TestFast","Elapsed":0.1}
{"Action":"run","Package":"a","Test":"TestBroken"}
{"Action":"output","Package":"a","Test":"TestBroken","Output":"    x_test.go:9: want 2\n"}
{"Action":"output","Package":"a","Test":"TestBroken","Output":"--- FAIL: TestBroken (2.50s)\n"}
{"Action":"fail","Package":"a","Test":"TestBroken","Elapsed":2.5}
{"Action":"output","Package":"a","Output":"FAIL\n"}
{"Action":"output","Package":"a","Output":"FAIL\ta\t2.6s\n"}
{"Action":"fail","Package":"a","Elapsed":2.6}
{"Action":"run","Package":"b","Test":"TestSlow"}
{"Action":"pass","Package":"b","Test":"TestSlow/sub","Elapsed":9}
{"Action":"pass","Package":"b","Test":"TestSlow","Elapsed":9.5}
{"Action":"output","Package":"b","Output":"testing: warning: no tests to run\n"}
{"Action":"output","Package":"b","Output":"PASS\n"}
{"Action":"output","Package":"b","Output":"ok  \tb\t9.6s\n"}
{"Action":"pass","Package":"b","Elapsed":9.6}
# b/c: build failed
`
	var out strings.Builder
	failed, err := summarize(strings.NewReader(in), &out, 2)
	if err != nil || !failed {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	got := out.String()
	for _, want := range []string{"x_test.go:9: want 2\n--- FAIL: TestBroken", "FAIL\ta\t2.6s\n", "ok  \tb\t9.6s\n", "# b/c: build failed",
		"slowest 2 tests:\n      9.50s  b.TestSlow\n      2.50s  a.TestBroken (FAIL)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TestFast") || strings.Contains(got, "TestSlow/sub") || strings.Contains(got, "warning") {
		t.Errorf("passing tests' output or subtests shown:\n%s", got)
	}
}
