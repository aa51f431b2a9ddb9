package cli

import "os"

// ReadFileArg reads a file named on the command line. A command that
// arrived over ssh runs inside the daemon, as root: a path there names a
// file of the server, which the key's user must not be able to read
// (config:import would print its first line in the error, certs:add could
// install the server's own key pair), so it is refused with how to send
// the file instead.
func (c *Ctx) ReadFileArg(name, pipe string) ([]byte, error) {
	if c.Remote {
		return nil, Failf("Over ssh, %s would be a file of the server, which Berth does not read for a remote command: send it on stdin (%s)", name, pipe)
	}
	return os.ReadFile(name)
}
