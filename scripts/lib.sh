# Shared helpers of Berth's scripts (sourced, not run).

# The Go version Berth builds with (go.mod names the same).
BERTH_GO_VERSION=1.26.8

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# ensure_go puts a Go toolchain of at least BERTH_GO_VERSION on PATH,
# downloading the official release into /usr/local/go when none is there.
ensure_go() {
	export PATH="/usr/local/go/bin:$PATH"
	if command -v go >/dev/null 2>&1; then
		local have
		have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
		if [ "$(printf '%s\n%s\n' "$BERTH_GO_VERSION" "$have" | sort -V | head -1)" = "$BERTH_GO_VERSION" ]; then
			return 0
		fi
		echo "go $have is older than $BERTH_GO_VERSION: installing go $BERTH_GO_VERSION into /usr/local/go" >&2
	fi
	[ "$(id -u)" -eq 0 ] || die "Go $BERTH_GO_VERSION is needed; run as root to install it, or install it yourself"
	local arch
	case "$(uname -m)" in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	*) die "no Go release known for $(uname -m)" ;;
	esac
	command -v curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl ca-certificates >/dev/null; } ||
		die "cannot install curl to download Go"
	local tgz=/tmp/go$BERTH_GO_VERSION.tgz
	curl -fsSL -o "$tgz" "https://go.dev/dl/go$BERTH_GO_VERSION.linux-$arch.tar.gz" ||
		die "cannot download Go $BERTH_GO_VERSION from go.dev; install it into /usr/local/go and run again"
	rm -rf /usr/local/go && tar -C /usr/local -xzf "$tgz" && rm -f "$tgz"
	go version >/dev/null || die "Go was unpacked into /usr/local/go but does not run"
}

# The staticcheck Berth's suite runs: a release that knows Go 1.26
# (staticcheck 2026.2.2).
BERTH_STATICCHECK_VERSION=0.8.2

# ensure_staticcheck puts staticcheck BERTH_STATICCHECK_VERSION on PATH,
# installing it with `go install` into GOBIN (GOPATH/bin) when it is missing
# or another version. Call it after ensure_go.
ensure_staticcheck() {
	local bin
	bin=$(go env GOBIN)
	[ -n "$bin" ] || bin="$(go env GOPATH)/bin"
	export PATH="$bin:$PATH"
	if command -v staticcheck >/dev/null 2>&1 &&
		staticcheck -version 2>/dev/null | grep -qF "($BERTH_STATICCHECK_VERSION)"; then
		return 0
	fi
	echo "installing staticcheck $BERTH_STATICCHECK_VERSION into $bin" >&2
	GOBIN="$bin" CGO_ENABLED=0 go install "honnef.co/go/tools/cmd/staticcheck@v$BERTH_STATICCHECK_VERSION" ||
		die "cannot install staticcheck v$BERTH_STATICCHECK_VERSION (go install honnef.co/go/tools/cmd/staticcheck)"
}

# ensure_pkg installs Debian packages whose command is missing:
# ensure_pkg COMMAND PACKAGE
ensure_pkg() {
	command -v "$1" >/dev/null 2>&1 && return 0
	[ -x "/usr/sbin/$1" ] && return 0
	[ "$(id -u)" -eq 0 ] || die "$1 is missing; install the Debian package $2"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
		die "apt-get install $2 failed"
}
