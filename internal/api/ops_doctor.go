package api

// DoctorReport is `berth doctor`'s answer: every check, in order.
type DoctorReport struct {
	Checks []DoctorCheck `json:"checks"`
}

// DoctorCheck is one check: fine, or a problem with its fix.
type DoctorCheck struct {
	// Check is the kind: engine, clock, port, disk, domain, cert, backup,
	// openssh.
	Check string `json:"check"`
	// Subject is what it looked at: "port :80 (BERTH_HTTP_ADDR)",
	// "shop.example.com (app shop)".
	Subject string `json:"subject"`
	OK      bool   `json:"ok"`
	// Warning marks an OK check that still deserves attention (a service
	// whose backups were never restored in a drill); it is not a problem.
	Warning bool `json:"warning,omitempty"`
	// Message says what was found.
	Message string `json:"message"`
	// Fix is the one command (or step) that fixes a problem or a
	// warning; "" when OK.
	Fix string `json:"fix,omitempty"`
}

// Problems counts the checks that found a problem.
func (r DoctorReport) Problems() int {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	return n
}

// Doctor checks what the host and Berth depend on (berth doctor).
var Doctor = Op[Empty, DoctorReport]{"system.doctor", AdminOnly}
