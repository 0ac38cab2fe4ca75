// The `kiln` command: parses the subcommand and maps kiln::Error to a one-line message and
// a non-zero exit. The only place in kiln that exits.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <string>

#include "autograd/threads.h"
#include "base/error.h"
#include "cli/commands.h"
#include "dist/communicator.h"

namespace {

constexpr const char* kUsage =
    "usage: kiln <command> [options]\n"
    "\n"
    "commands:\n"
    "  train        train a model from a YAML config (resumable)\n"
    "  eval         loss and perplexity of a checkpoint on held-out text\n"
    "  sample       generate text from a GPT checkpoint\n"
    "  translate    translate lines with an encoder-decoder (marian) checkpoint\n"
    "  bench        time training steps on synthetic data (compare with PyTorch)\n"
    "  tokenizer    train a tokenizer, or encode JSON lines with one\n"
    "  embed        final hidden states and pooled vector of a BERT checkpoint for a text\n"
    "  classify     label probabilities of a text from a BERT classifier checkpoint\n"
    "  import-hf    convert a Hugging Face model folder (safetensors) into a kiln checkpoint\n"
    "  export-hf    write a kiln checkpoint as a Hugging Face model folder\n"
    "  forward      run a checkpoint on inputs from an HDF5 file, write the outputs\n"
    "  version      print kiln's version and the thread count it would use\n"
    "\n"
    "Run 'kiln <command> --help' for a command's options.\n";

int run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  if (command == "version" || command == "--version") {
    std::printf("kiln 0.1.0 (threads: %d)\n", kiln::num_threads());
    return 0;
  }
  int rest = argc - 2;
  char** rest_argv = argv + 2;
  if (command == "train") return kiln::cli::train_command(rest, rest_argv);
  if (command == "eval") return kiln::cli::eval_command(rest, rest_argv);
  if (command == "sample") return kiln::cli::sample_command(rest, rest_argv);
  if (command == "bench") return kiln::cli::bench_command(rest, rest_argv);
  if (command == "tokenizer") return kiln::cli::tokenizer_command(rest, rest_argv);
  if (command == "embed") return kiln::cli::embed_command(rest, rest_argv);
  if (command == "classify") return kiln::cli::classify_command(rest, rest_argv);
  if (command == "import-hf") return kiln::cli::import_hf_command(rest, rest_argv);
  if (command == "export-hf") return kiln::cli::export_hf_command(rest, rest_argv);
  if (command == "forward") return kiln::cli::forward_command(rest, rest_argv);
  if (command == "translate") return kiln::cli::translate_command(rest, rest_argv);
  throw kiln::Error("kiln: expected a command (see 'kiln --help'), got '" + command + "'");
}

}  // namespace

// libgomp reads OMP_WAIT_POLICY once, when it loads, so it cannot be changed from main().
// Busy-waiting workers cost kiln up to 20x on a shared 2-core machine (a descheduled thread
// holds up a spinning one at every barrier), so unless the user chose a policy, restart
// once with the passive one, as ../shared/bench/torch_reference.py does for PyTorch.
void prefer_passive_openmp_waiting(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure; then carry on as we are
}

// glibc hands large blocks back to the kernel on free (mmap above a threshold, heap trimming
// below it), so every training step faults the pages of its big tensors in again and the
// kernel zeroes them. A step frees and reallocates the same sizes each time, so keep the
// memory. Measured on bert-mini-kjv, 120 steps with 3 evaluations: page faults 1.41M -> 0.21M,
// system time 4.3 -> 1.4 s, wall 69.9 -> 62.3 s, peak RSS 825 -> 866 MB (gpt2-124m bench:
// 3.28 -> 3.54 GB).
void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

int main(int argc, char** argv) {
  prefer_passive_openmp_waiting(argv);
  keep_freed_memory();
  // Under mpirun a failing rank must end the whole job, or the others would wait for it.
  const kiln::dist::Communicator& comm = kiln::dist::Communicator::world();
  auto fail = [&](int code) {
    if (comm.size() > 1) comm.abort(code);
    return code;
  };
  try {
    return run(argc, argv);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return fail(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return fail(3);
  }
}
