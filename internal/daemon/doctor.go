package daemon

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/doctor"
	"github.com/berthpaas/berth/internal/gitserver"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// registerDoctor adds system.doctor: the daemon runs the checks, as it
// sees the state, the engine and the host.
func (svc *Service) registerDoctor(mux *api.Mux, st *store.Store, s settings.Settings, eng *engineConn, git *gitserver.Server) {
	api.Handle(mux, api.Doctor, func(ctx context.Context, _ api.Empty, _ api.Output) (api.DoctorReport, error) {
		restart := "systemctl restart berth"
		ssh := git.SSHAddr()
		if ssh == "" {
			ssh = "off"
		}
		self := os.Getpid()
		d := doctor.New(doctor.Config{
			Engine:    doctorEngine{eng},
			State:     doctorState{st},
			OpenSSH:   git,
			Resolver:  doctor.NewResolver(s.DNSServer),
			HostAddrs: doctor.InterfaceAddrs,
			Listeners: doctor.ProcListeners{},
			Disks:     doctor.Statfs{},
			Now:       svc.now,
			DataDir:   s.DataDir, ConfigFile: s.ConfigFile,
			Ports: []doctor.Port{
				{Setting: "BERTH_HTTP_ADDR", Addr: orOff(svc.proxyAddr), Owner: "the berth proxy", Owns: isProxy, Fix: restart + " (it starts the proxy)"},
				{Setting: "BERTH_HTTPS_ADDR", Addr: orOff(svc.proxyTLSAddr), Owner: "the berth proxy", Owns: isProxy, Fix: restart + " (it starts the proxy)"},
				{Setting: "BERTH_SSH_ADDR", Addr: ssh, Owner: "the berth daemon", Owns: func(l doctor.Listener) bool { return l.PID == self }, Fix: restart},
			},
		})
		return d.Run(ctx), nil
	})
}

func orOff(addr string) string {
	if addr == "" {
		return "off"
	}
	return addr
}

// isProxy: the listener's process is `berth serve-proxy` (or `berth
// proxy`, as Berth before 0.13 named it, until it is handed over).
func isProxy(l doctor.Listener) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(l.PID), "cmdline"))
	if err != nil {
		return false
	}
	args := bytes.Split(b, []byte{0})
	return len(args) > 1 && filepath.Base(string(args[0])) == "berth" && (string(args[1]) == "serve-proxy" || string(args[1]) == "proxy")
}

// doctorEngine is the engine as the doctor reads it.
type doctorEngine struct{ e *engineConn }

func (d doctorEngine) Info(ctx context.Context) (doctor.EngineInfo, error) {
	eng, err := d.e.get(ctx)
	if err != nil {
		return doctor.EngineInfo{}, err
	}
	c, ok := eng.(*docker.Client)
	if !ok {
		return doctor.EngineInfo{}, errors.New("the engine client cannot report its version")
	}
	i, err := c.Info(ctx)
	return doctor.EngineInfo{Version: i.Version, RootDir: i.RootDir, Time: i.Time}, err
}

// doctorState reads domains, certificates and backup schedules.
type doctorState struct{ st *store.Store }

func (d doctorState) Domains(ctx context.Context) ([]doctor.Domain, error) {
	var out []doctor.Domain
	err := d.st.Tx(ctx, func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, a := range apps {
			ds, err := tx.Domains(a)
			if err != nil {
				return err
			}
			for _, name := range ds {
				out = append(out, doctor.Domain{App: a.Name, Name: name})
			}
		}
		return nil
	})
	return out, err
}

func (d doctorState) Certs(ctx context.Context) ([]doctor.Cert, error) {
	var out []doctor.Cert
	err := d.st.Tx(ctx, func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, a := range apps {
			c, err := tx.Cert(a)
			if errors.Is(err, store.ErrNoCert) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, doctor.Cert{App: a.Name, Source: c.Source, Domains: c.Domains, NotAfter: c.NotAfter, LastError: c.LastError, LastTryAt: c.LastTryAt})
		}
		return nil
	})
	return out, err
}

func (d doctorState) Backups(ctx context.Context) ([]doctor.Backup, error) {
	var out []doctor.Backup
	err := d.st.Tx(ctx, func(tx *store.Tx) error {
		scheds, err := tx.BackupSchedules()
		if err != nil {
			return err
		}
		for _, b := range scheds {
			ok, failed, err := tx.LastBackupRuns(b.Service)
			if err != nil {
				return err
			}
			db := doctor.Backup{Kind: b.Service.Kind, Service: b.Service.Name, Schedule: b.Schedule, Dir: b.Dir, Since: b.CreatedAt,
				LastOK: ok.StartedAt, LastFailed: failed.StartedAt, LastError: failed.Error, Drillable: b.Service.Kind == "postgres"}
			drill, found, err := tx.LastBackupDrill(b.Service)
			if err != nil {
				return err
			}
			if found {
				db.Drill = &doctor.Drill{At: drill.At, File: drill.File, OK: drill.OK, Error: drill.Error}
			}
			out = append(out, db)
		}
		return nil
	})
	return out, err
}
