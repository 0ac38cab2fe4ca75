#!/usr/bin/env bash
# Configures and builds kiln (Release) into ./build with as many jobs as there are cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
