#!/usr/bin/env bash
# Installs the real Temporal CLI and CNCF Distribution registry into a cache outside the clone,
# so that fresh clones and CI reuse one build. Tools already on PATH, or named by an environment
# variable, are used as they are.
#
#   scripts/install-tools.sh            temporal + registry (what the tests and the demo need)
#   scripts/install-tools.sh --bench    also the benchmark's peers: crane and regctl (built), skopeo and GNU
#                                       time (apt-get, when run as root on Debian or Ubuntu)
#
# Environment: PROMOTER_TOOLS_DIR (default ~/.cache/image-promoter/bin), TEMPORAL_CLI, REGISTRY_BIN,
# CRANE_BIN, REGCTL_BIN.
set -euo pipefail

tools_dir=${PROMOTER_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/image-promoter/bin}
mkdir -p "$tools_dir"

temporal_version=1.5.1
registry_version=v3.0.0
crane_version=v0.22.1
regctl_version=v0.11.7

# present NAME ENV_VALUE: true when the tool is named by its variable, on PATH, or in the cache.
present() {
  local name=$1 named=$2
  if [[ -n "$named" ]]; then
    [[ -x "$named" ]] || { echo "error: $name was set to '$named', which is not an executable file" >&2; exit 1; }
    echo "$name: using $named" >&2
    return 0
  fi
  if [[ -x "$tools_dir/$name" ]]; then
    echo "$name: using $tools_dir/$name" >&2
    return 0
  fi
  if command -v "$name" >/dev/null 2>&1; then
    echo "$name: using $(command -v "$name")" >&2
    return 0
  fi
  return 1
}

go_install() {
  local name=$1
  shift
  if ! command -v go >/dev/null 2>&1; then
    cat >&2 <<MSG
error: $name is not installed and Go is not available to build it.
Install Go 1.22 or later (https://go.dev/dl/) and run this script again, or install $name yourself
and put it on PATH (or name it in the environment variable given in scripts/install-tools.sh).
MSG
    if [[ $name == temporal ]]; then
      echo "Without it, the tests fall back to the Temporal SDK's own download of a dev server, which needs internet access." >&2
      return 0
    fi
    exit 1
  fi
  echo "$name: building with go install (first time only) into $tools_dir" >&2
  local started=$SECONDS
  GOBIN="$tools_dir" GOFLAGS=-mod=mod go install "$@"
  echo "$name: built in $((SECONDS - started)) s" >&2
}

present temporal "${TEMPORAL_CLI:-}" ||
  go_install temporal -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$temporal_version" \
    "github.com/temporalio/cli/cmd/temporal@v$temporal_version"

present registry "${REGISTRY_BIN:-}" ||
  go_install registry "github.com/distribution/distribution/v3/cmd/registry@$registry_version"

if [[ ${1:-} == --bench ]]; then
  present crane "${CRANE_BIN:-}" || go_install crane "github.com/google/go-containerregistry/cmd/crane@$crane_version"
  present regctl "${REGCTL_BIN:-}" || go_install regctl "github.com/regclient/regclient/cmd/regctl@$regctl_version"
  # skopeo is taken from the distribution, as users of it install it; GNU time gives the benchmark the kernel's
  # exact peak RSS of each run.
  missing=()
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
  [[ -x /usr/bin/time ]] || missing+=(time)
  if ((${#missing[@]} > 0)); then
    if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
      echo "${missing[*]}: installing with apt-get" >&2
      apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
    else
      echo "${missing[*]}: not installed; on Debian or Ubuntu: sudo apt-get install ${missing[*]}" >&2
      echo "The benchmark leaves out skopeo's rows without it, and samples peak RSS without GNU time." >&2
    fi
  fi
fi
