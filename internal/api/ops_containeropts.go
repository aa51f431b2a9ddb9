package api

// The operations of what a container gets when it is created:
// docker-options, storage mounts and resource limits (served by
// internal/containeropts).

// DockerOptionsChange adds, removes or clears docker options.
type DockerOptionsChange struct {
	App string `json:"app"`
	// Verb is "add", "remove" or "clear".
	Verb string `json:"verb"`
	// Phases are the phases changed; clear without phases clears them all.
	Phases []string `json:"phases,omitempty"`
	// Processes scope the change to process types (deploy phase only).
	Processes []string `json:"processes,omitempty"`
	// Option is what was typed after the phases, words joined by a space;
	// the daemon splits it into options as Dokku does.
	Option string `json:"option,omitempty"`
	// ScopedTo is set by the access check for a key limited to some apps
	// (ScopedRequest): such a key may not change the deploy and run
	// phases, whose options reach the host (-v, --privileged).
	ScopedTo []string `json:"scoped_to,omitempty"`
}

// WithScope returns r limited to apps.
func (r DockerOptionsChange) WithScope(apps []string) any {
	r.ScopedTo = apps
	return r
}

// DockerOptionsQuery asks for the options of one phase and scope.
type DockerOptionsQuery struct {
	App     string `json:"app"`
	Phase   string `json:"phase"`
	Process string `json:"process,omitempty"`
}

// DockerOptionsListing is a list of stored options.
type DockerOptionsListing struct {
	Options []string `json:"options"`
}

// DockerOptionsValues holds every stored option of an app, by key: the
// phase for the default scope ("deploy"), "deploy.TYPE" for a process type.
type DockerOptionsValues struct {
	Options map[string][]string `json:"options"`
}

// ResourceChange sets (or with Clear, clears) resource limits or
// reservations of an app's process type ("" is every type, _default_).
type ResourceChange struct {
	App     string `json:"app"`
	Process string `json:"process,omitempty"`
	// Kind is "limit" or "reserve".
	Kind string `json:"kind"`
	// Values are cpu, memory, memory-swap, network, network-ingress,
	// network-egress, nvidia-gpu; the value "clear" clears one.
	Values map[string]string `json:"values,omitempty"`
	// Clear removes every value of Kind for Process (all of the app's
	// resources when Process is "").
	Clear bool `json:"clear,omitempty"`
}

// ResourceValues are an app's stored resource properties, by
// TYPE.KIND.KEY ("_default_.limit.memory").
type ResourceValues struct {
	Values map[string]string `json:"values"`
}

// StorageDirRequest ensures a directory of the storage root exists
// (storage:ensure-directory) and sets its owner.
type StorageDirRequest struct {
	Name  string `json:"name"`
	Chown string `json:"chown,omitempty"` // herokuish (default), heroku, paketo, root, false or a uid
}

// StorageMountRequest mounts (or unmounts) storage into an app's
// containers: Mount is "HOST-DIR:CONTAINER-DIR[:OPTIONS]" or the name of a
// storage entry (with ContainerDir).
type StorageMountRequest struct {
	App           string   `json:"app"`
	Mount         string   `json:"mount"`
	ContainerDir  string   `json:"container_dir,omitempty"`
	Phases        []string `json:"phases,omitempty"`
	Process       string   `json:"process,omitempty"`
	Subpath       string   `json:"subpath,omitempty"`
	Readonly      bool     `json:"readonly,omitempty"`
	VolumeOptions string   `json:"volume_options,omitempty"`
	VolumeChown   string   `json:"volume_chown,omitempty"`
}

// StorageAttachment is one mount of an app.
type StorageAttachment struct {
	EntryName     string   `json:"entry_name,omitempty"`
	HostPath      string   `json:"host_path"`
	ContainerPath string   `json:"container_path"`
	Phases        []string `json:"phases"`
	Process       string   `json:"process_type"`
	Subpath       string   `json:"subpath,omitempty"`
	Readonly      bool     `json:"readonly,omitempty"`
	VolumeOptions string   `json:"volume_options,omitempty"`
	VolumeChown   string   `json:"volume_chown,omitempty"`
	// Missing is set when the attachment names an entry that no longer
	// exists (it is skipped when containers are created).
	Missing bool `json:"missing,omitempty"`
}

// StorageAttachments are an app's mounts, in the order they were made.
type StorageAttachments struct {
	Attachments []StorageAttachment `json:"attachments"`
}

// StorageEntry is a named storage entry (storage:create).
type StorageEntry struct {
	Name          string `json:"name"`
	HostPath      string `json:"host_path"`
	Scheduler     string `json:"scheduler"`
	Chown         string `json:"chown,omitempty"`
	Mode          string `json:"mode,omitempty"`
	ReclaimPolicy string `json:"reclaim_policy,omitempty"`
	// Default says HostPath is under Berth's storage root.
	Default bool `json:"default_path,omitempty"`
	// Annotations and Labels are metadata (Dokku's, for k3s); Berth keeps
	// and reports them.
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// Size is refused for docker-local entries (Dokku's k3s option); it
	// is only carried to say so.
	Size string `json:"size,omitempty"`
	// MountedOn are the apps the entry is mounted on (storage:info).
	MountedOn []string `json:"mounted_on,omitempty"`
}

// StorageSetRequest changes a storage entry in place: properties (chown,
// mode, reclaim-policy; "" unsets), annotations and labels ("" removes a
// key).
type StorageSetRequest struct {
	Name        string            `json:"name"`
	Properties  map[string]string `json:"properties,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// StorageCreateRequest registers a storage entry.
type StorageCreateRequest struct {
	StorageEntry
}

// StorageDestroyRequest removes a storage entry.
type StorageDestroyRequest struct {
	Name           string `json:"name"`
	DestroyHostDir bool   `json:"destroy_host_dir,omitempty"`
}

// StorageEntryRef names a storage entry.
type StorageEntryRef struct {
	Name string `json:"name"`
}

// StorageEntries lists storage entries.
type StorageEntries struct {
	Entries []StorageEntry `json:"entries"`
}

// Operations of docker-options, storage and resource. Changes that reach
// the host's file system (mounts, storage directories) need an admin key.
var (
	DockerOptionsUpdate = Op[DockerOptionsChange, Empty]{"docker-options.update", AppScoped}
	DockerOptionsList   = Op[DockerOptionsQuery, DockerOptionsListing]{"docker-options.list", AppScoped}
	DockerOptionsReport = Op[AppRef, DockerOptionsValues]{"docker-options.report", AppScoped}

	ResourceUpdate = Op[ResourceChange, Empty]{"resource.update", AppScoped}
	ResourceReport = Op[AppRef, ResourceValues]{"resource.report", AppScoped}

	StorageEnsureDirectory = Op[StorageDirRequest, Empty]{"storage.ensure-directory", AdminOnly}
	StorageMount           = Op[StorageMountRequest, Empty]{"storage.mount", AdminOnly}
	StorageUnmount         = Op[StorageMountRequest, Empty]{"storage.unmount", AdminOnly}
	StorageList            = Op[AppRef, StorageAttachments]{"storage.list", AppScoped}
	StorageCreate          = Op[StorageCreateRequest, StorageEntry]{"storage.create", AdminOnly}
	StorageDestroy         = Op[StorageDestroyRequest, Empty]{"storage.destroy", AdminOnly}
	StorageEntryList       = Op[Empty, StorageEntries]{"storage.entries", AdminOnly}
	StorageInfo            = Op[StorageEntryRef, StorageEntry]{"storage.info", AdminOnly}
	StorageSet             = Op[StorageSetRequest, StorageEntry]{"storage.set", AdminOnly}
	StorageMigrate         = Op[AppRef, Empty]{"storage.migrate", AdminOnly}
)

// AppName is the app a request touches.
func (r DockerOptionsChange) AppName() string { return r.App }

// AppName is the app a request touches.
func (r DockerOptionsQuery) AppName() string { return r.App }

// AppName is the app a request touches.
func (r ResourceChange) AppName() string { return r.App }

// AppName is the app a request touches.
func (r StorageMountRequest) AppName() string { return r.App }
