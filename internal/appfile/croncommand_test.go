package appfile

import "testing"

func TestCheckCronCommand(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"python3 task.py schedule", `sh -c 'echo a; echo b'`, `echo "a;b"`, `echo a\;b`, "rake db:migrate $HOME"} {
		if why := checkCronCommand(ok); why != "" {
			t.Errorf("%q refused: %s", ok, why)
		}
	}
	for _, bad := range []string{"echo CRON_OK; echo hi > /tmp/x", "a | b", "a && b", "a > f", "echo $(id)", "echo `id`", `echo "$(id)"`, "(a)", "echo 'open"} {
		if why := checkCronCommand(bad); why == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAppJSONCronPolicy(t *testing.T) {
	t.Parallel()
	a, err := ParseAppJSON([]byte(`{"cron":[{"command":"sleep 30","schedule":"0 0 * * *","concurrency_policy":"forbid","maintenance":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := a.Cron[0]; c.ConcurrencyPolicy != "forbid" || !c.Maintenance {
		t.Fatalf("cron = %+v", c)
	}
	for _, bad := range []string{
		`{"cron":[{"command":"sleep 30","schedule":"0 0 * * *","concurrency_policy":"sometimes"}]}`,
		`{"cron":[{"command":"echo CRON_OK; echo hi > /tmp/x","schedule":"* * * * *"}]}`,
		`{"cron":[{"command":"python3 task.py","schedule":"0 5 * * * *"}]}`,
		`{"cron":[{"command":"python3 task.py","schedule":"@nonstandard"}]}`,
		`{"cron":[{"key":"value"}]}`,
	} {
		if _, err := ParseAppJSON([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
