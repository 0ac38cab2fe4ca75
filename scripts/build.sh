#!/usr/bin/env bash
# Configures and builds kiln (Release) into ./build with as many jobs as there are cores.
# Usage: scripts/build.sh [TARGET...]   (no target: everything, tests and benchmarks included;
#                                        `scripts/build.sh kiln`: only the kiln executable)
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
need cmake cmake
need c++ g++
step "configuring kiln with CMake" \
  "a package is probably missing: run scripts/setup.sh, then rerun (CMake's message above names it)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
step "compiling kiln" "read the compiler's message above; if it names a missing header, run scripts/setup.sh"
cmake --build build -j"$(nproc)" "${targets[@]}"
