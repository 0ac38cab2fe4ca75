// kiln sample --checkpoint PATH --prompt TEXT [--max-new-tokens N --temperature T --top-k K
//             --top-p P --seed S]
#include <chrono>
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/gpt_task.h"
#include "train/sampling.h"

namespace kiln::cli {

int sample_command(int argc, char** argv) {
  Args args("sample", argc, argv,
            {"checkpoint", "prompt", "max-new-tokens", "temperature", "top-k", "top-p", "seed"});
  if (args.help()) {
    std::puts(
        "usage: kiln sample --checkpoint PATH --prompt TEXT [options]\n"
        "\n"
        "Continues TEXT with the checkpoint's GPT and prints the result.\n"
        "  --max-new-tokens N  tokens to generate (default 200)\n"
        "  --temperature T     softmax temperature; 0 = greedy (default 0.8)\n"
        "  --top-k K           sample from the K most likely tokens; 0 = all (default 0)\n"
        "  --top-p P           sample from the smallest set with probability >= P (default 1)\n"
        "  --seed S            the same seed gives the same text (default 1337)");
    return 0;
  }
  LoadedGpt loaded = load_gpt(args.require("checkpoint"));
  SamplingOptions options;
  options.max_new_tokens = static_cast<int>(args.get_int("max-new-tokens", 200));
  options.temperature = static_cast<float>(args.get_double("temperature", 0.8));
  options.top_k = static_cast<int>(args.get_int("top-k", 0));
  options.top_p = static_cast<float>(args.get_double("top-p", 1.0));
  options.seed = static_cast<uint64_t>(args.get_int("seed", 1337));
  const std::string prompt = args.require("prompt");
  std::vector<int32_t> ids = loaded.tokenizer->encode(prompt, "--prompt");
  std::fputs(prompt.c_str(), stdout);
  auto start = std::chrono::steady_clock::now();
  generate(*loaded.model, ids, options, [&](int32_t id) {
    std::fputs(loaded.tokenizer->decode(std::vector<int32_t>{id}).c_str(), stdout);
    std::fflush(stdout);
  });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "\n[%d tokens in %.2f s: %.1f tokens/s]\n", options.max_new_tokens, seconds,
               options.max_new_tokens / std::max(seconds, 1e-9));
  std::putchar('\n');
  return 0;
}

}  // namespace kiln::cli
