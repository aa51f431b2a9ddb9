package cli_test

// The command packages beside cli register their commands in its table at
// init, and cmd/berth imports them. Importing them here too puts the whole
// table, as the binary has it, under the table-wide tests of cli
// (TestEveryCommandHasHelp, TestEveryCommandRefusesUnknownFlags,
// TestEveryAppCommandWantsAnApp, TestEveryFormatIsCheckedFirst,
// TestParseShapes, TestPropertySetters, help's alignment).
import (
	_ "github.com/berthpaas/berth/internal/cli/containercmd"
	_ "github.com/berthpaas/berth/internal/cli/croncmd"
	_ "github.com/berthpaas/berth/internal/cli/doctorcmd"
	_ "github.com/berthpaas/berth/internal/cli/logscmd"
	_ "github.com/berthpaas/berth/internal/cli/networkcmd"
	_ "github.com/berthpaas/berth/internal/cli/routingcmd"
	_ "github.com/berthpaas/berth/internal/cli/servicecmd"
)
