package daemon

import (
	"context"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// backupSummary is the backup state info shows. (Backups: in progress.)
func (s *Service) backupSummary(ctx context.Context, svc store.Service) api.BackupSummary {
	return api.BackupSummary{}
}

// unscheduleBackups stops a destroyed service's scheduled backups.
func (s *Service) unscheduleBackups(svc store.Service) {}
