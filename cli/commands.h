// The subcommands of `kiln`. Each add_*_command declares its options once on a CLI11
// subcommand of `kiln` and a callback that runs it; errors are thrown (kiln::Error) and turned
// into messages and exit codes by main(). A new command is one file and one line in main.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace kiln::cli {

void add_train_command(CLI::App& kiln);
void add_eval_command(CLI::App& kiln);
void add_sample_command(CLI::App& kiln);
void add_bench_command(CLI::App& kiln);
void add_tokenizer_command(CLI::App& kiln);  // with nested `train` and `encode`
void add_embed_command(CLI::App& kiln);
void add_classify_command(CLI::App& kiln);
void add_import_hf_command(CLI::App& kiln);
void add_export_hf_command(CLI::App& kiln);
void add_forward_command(CLI::App& kiln);
void add_translate_command(CLI::App& kiln);

}  // namespace kiln::cli
