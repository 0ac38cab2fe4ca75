// The subcommands of `kiln`. Each takes the arguments after its name and returns the exit
// code; errors are thrown as kiln::Error and turned into messages by main().
#pragma once

namespace kiln::cli {

int train_command(int argc, char** argv);
int eval_command(int argc, char** argv);
int sample_command(int argc, char** argv);
int bench_command(int argc, char** argv);
int tokenizer_command(int argc, char** argv);
int embed_command(int argc, char** argv);
int classify_command(int argc, char** argv);
int import_hf_command(int argc, char** argv);
int export_hf_command(int argc, char** argv);
int forward_command(int argc, char** argv);
int translate_command(int argc, char** argv);

}  // namespace kiln::cli
