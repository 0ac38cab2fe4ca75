#!/usr/bin/env bash
# Installs every Debian package kiln needs to build, test and prepare its corpora, on a fresh
# Debian 12. Idempotent: does nothing (and needs no network) when everything is installed.
source "$(dirname "$0")/lib.sh"

packages=(
  build-essential cmake pkg-config git ca-certificates python3
  libdnnl-dev libopenblas-dev libhdf5-dev libyaml-cpp-dev libicu-dev libfmt-dev
  # Debian's libdnnl-dev only recommends OpenCL, but its CMake config (dnnl-config.cmake)
  # calls find_package(OpenCL REQUIRED): without this, configuring kiln fails.
  ocl-icd-opencl-dev
  # The kiln command's option parser (header-only): help, types and ranges from one declaration.
  libcli11-dev
  # Data-parallel training: mpirun and the MPI library (dist/).
  openmpi-bin libopenmpi-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  bible-kjv fortunes
  # The Reina-Valera 1909 and its reader, for the Spanish-English corpus (es-en).
  sword-text-sparv diatheke
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  need sudo sudo
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
step "updating the Debian package lists" \
  "check that the Debian mirror in /etc/apt/sources.list(.d) is reachable, then rerun scripts/setup.sh"
$sudo apt-get update -qq
step "installing ${missing[*]}" \
  "see apt's message above; rerun scripts/setup.sh once the mirror or dpkg problem is fixed"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${#missing[@]} packages"
