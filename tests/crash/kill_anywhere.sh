#!/usr/bin/env bash
# The long form of the kill-anywhere test (tests/cli/kill_anywhere_test.cpp): SIGKILL a tiny
# GPT and a tiny BERT at MOMENTS random moments each (between steps and inside file writes),
# resume with --resume auto, and check every parameter and optimizer moment against an
# uninterrupted run. scripts/test.sh runs the short form (20 moments).
# Usage: tests/crash/kill_anywhere.sh [MOMENTS] [SEED]     (default 200 moments, seed 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x build/cli_tests ] || { echo "kill_anywhere: build/cli_tests not found; run scripts/build.sh" >&2; exit 1; }
KILN_KILL_MOMENTS=${1:-200} KILN_KILL_SEED=${2:-1} build/cli_tests --gtest_filter='KillAnywhereTest.*'
