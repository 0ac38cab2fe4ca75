// kiln sample --checkpoint PATH --prompt TEXT [--max-new-tokens N --temperature T --top-k K
//             --top-p P --repetition-penalty R --stop TEXT --seed S --no-cache]
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/registry.h"
#include "train/sampling.h"

namespace kiln::cli {

int sample_command(int argc, char** argv) {
  Args args("sample", argc, argv,
            {"checkpoint", "prompt", "max-new-tokens", "temperature", "top-k", "top-p",
             "repetition-penalty", "stop", "seed"},
            {"no-cache"});
  if (args.help()) {
    std::puts(
        "usage: kiln sample --checkpoint PATH --prompt TEXT [options]\n"
        "\n"
        "Continues TEXT with the checkpoint's GPT and prints the result.\n"
        "  --max-new-tokens N  tokens to generate (default 200)\n"
        "  --temperature T     softmax temperature; 0 = greedy (default 0.8)\n"
        "  --top-k K           sample from the K most likely tokens; 0 = all (default 0)\n"
        "  --top-p P           sample from the smallest set with probability >= P (default 1)\n"
        "  --repetition-penalty R  divide positive logits of tokens already in the text by R\n"
        "                      and multiply negative ones (CTRL rule); 1 = off (default 1)\n"
        "  --stop TEXT         stop once the generated text ends with TEXT (printed too)\n"
        "  --seed S            the same seed gives the same text (default 1337)\n"
        "  --no-cache          re-run the whole window for every token (slow; for comparison)\n"
        "\n"
        "The speed (tokens/s) is printed to stderr at the end.");
    return 0;
  }
  const LoadedModel loaded = load_model(args.require("checkpoint"));
  loaded.model.require({Arch::kGpt}, "kiln sample: " + loaded.path);
  SamplingOptions options;
  options.max_new_tokens = static_cast<int>(args.get_int("max-new-tokens", 200));
  options.temperature = static_cast<float>(args.get_double("temperature", 0.8));
  options.top_k = static_cast<int>(args.get_int("top-k", 0));
  options.top_p = static_cast<float>(args.get_double("top-p", 1.0));
  options.repetition_penalty = static_cast<float>(args.get_double("repetition-penalty", 1.0));
  options.stop = args.get("stop");
  options.use_cache = !args.has("no-cache");
  options.seed = static_cast<uint64_t>(args.get_int("seed", 1337));
  check_sampling_options(options);  // before any output
  const std::string prompt = args.require("prompt");
  std::vector<int32_t> ids = loaded.tokenizer.encode(prompt, "--prompt");
  const Tokenizer& tokenizer = loaded.tokenizer;
  std::fputs(prompt.c_str(), stdout);
  Generation result = generate(
      *loaded.model.gpt, ids, options,
      [&](int32_t id) {
        std::fputs(tokenizer.decode(std::vector<int32_t>{id}).c_str(), stdout);
        std::fflush(stdout);
      },
      [&](std::span<const int32_t> generated) { return tokenizer.decode(generated); });
  std::putchar('\n');
  std::fflush(stdout);
  std::fprintf(stderr, "[%d tokens in %.2f s: %.1f tokens/s (prompt of %zu tokens: %.3f s)%s%s]\n",
               result.new_tokens, result.seconds, result.tokens_per_second(), ids.size(),
               result.prompt_seconds, result.stopped ? ", stopped" : "",
               options.use_cache ? "" : ", no cache");
  return 0;
}

}  // namespace kiln::cli
