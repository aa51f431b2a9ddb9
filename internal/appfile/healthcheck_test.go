package appfile

import (
	"reflect"
	"testing"
)

func TestHealthcheckWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Healthcheck
		want Healthcheck
	}{
		{"empty", Healthcheck{},
			Healthcheck{Type: "startup", Scheme: "http", Attempts: intp(3), Timeout: intp(5), Wait: intp(5), InitialDelay: intp(0)}},
		{"zero attempts and timeout mean default, zero wait is kept", Healthcheck{Attempts: intp(0), Timeout: intp(0), Wait: intp(0), InitialDelay: intp(0)},
			Healthcheck{Type: "startup", Scheme: "http", Attempts: intp(3), Timeout: intp(5), Wait: intp(0), InitialDelay: intp(0)}},
		{"set values are kept", Healthcheck{Type: "liveness", Name: "n", Path: "/x", Scheme: "https", Port: 8080,
			Attempts: intp(7), Timeout: intp(9), Wait: intp(2), InitialDelay: intp(4)},
			Healthcheck{Type: "liveness", Name: "n", Path: "/x", Scheme: "https", Port: 8080,
				Attempts: intp(7), Timeout: intp(9), Wait: intp(2), InitialDelay: intp(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.WithDefaults(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHealthcheckWithDefaultsDoesNotAlias(t *testing.T) {
	h := Healthcheck{Attempts: intp(4), Command: []string{"a"}, HTTPHeaders: []HTTPHeader{{"Host", "x"}}}
	d := h.WithDefaults()
	*d.Attempts = 99
	d.Command[0] = "b"
	d.HTTPHeaders[0].Value = "y"
	if *h.Attempts != 4 || h.Command[0] != "a" || h.HTTPHeaders[0].Value != "x" {
		t.Errorf("WithDefaults result shares memory with its receiver: %+v", h)
	}
}

func TestHealthcheckKind(t *testing.T) {
	tests := []struct {
		h    Healthcheck
		want CheckKind
		name string
	}{
		{Healthcheck{}, UptimeCheck, "uptime"},
		{Healthcheck{Uptime: 10}, UptimeCheck, "uptime"},
		{Healthcheck{Path: "/"}, PathCheck, "path"},
		{Healthcheck{Command: []string{"true"}}, CommandCheck, "command"},
		{Healthcheck{Listening: true}, ListeningCheck, "listening"},
	}
	for _, tt := range tests {
		if got := tt.h.Kind(); got != tt.want || got.String() != tt.name {
			t.Errorf("%+v.Kind() = %v (%d), want %s", tt.h, got, got, tt.name)
		}
	}
}

func TestDefaultHealthcheck(t *testing.T) {
	h := DefaultHealthcheck()
	if h.Kind() != UptimeCheck || h.Uptime != 10 || h.Type != "startup" || h.Attempts == nil || h.Timeout == nil || h.Wait == nil || h.InitialDelay == nil {
		t.Errorf("DefaultHealthcheck() = %+v", h)
	}
}
