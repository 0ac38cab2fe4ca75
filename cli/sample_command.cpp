// kiln sample --checkpoint PATH --prompt TEXT [--max-new-tokens N --temperature T --top-k K
//             --top-p P --repetition-penalty R --stop TEXT --seed S --no-cache]
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "train/registry.h"
#include "train/sampling.h"

namespace kiln::cli {

void add_sample_command(CLI::App& kiln) {
  struct Options {
    std::string checkpoint, prompt, stop;
    long long max_new_tokens = 200, top_k = 0, seed = 1337;
    double temperature = 0.8, top_p = 1.0, repetition_penalty = 1.0;
    bool no_cache = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sample = kiln.add_subcommand("sample", "generate text from a GPT checkpoint");
  sample->add_option("--checkpoint", o->checkpoint, "a GPT checkpoint")
      ->required()
      ->type_name("PATH");
  sample->add_option("--prompt", o->prompt, "the text to continue")->required()->type_name("TEXT");
  sample->add_option("--max-new-tokens", o->max_new_tokens, "tokens to generate")
      ->type_name("N")
      ->check(integer_in(0, kMaxNewTokens));
  sample->add_option("--temperature", o->temperature, "softmax temperature; 0 = greedy")
      ->type_name("T")
      ->check(finite_number([](double x) { return x >= 0; }, "a finite temperature >= 0"));
  sample->add_option("--top-k", o->top_k, "sample from the K most likely tokens; 0 = all")
      ->type_name("K")
      ->check(integer_in(0));
  sample
      ->add_option("--top-p", o->top_p,
                   "sample from the smallest set of tokens with probability >= P")
      ->type_name("P")
      ->check(finite_number([](double x) { return x > 0 && x <= 1; }, "a number in (0, 1]"));
  sample
      ->add_option("--repetition-penalty", o->repetition_penalty,
                   "divide positive logits of tokens already in the text by R and multiply "
                   "negative ones (CTRL rule); 1 = off")
      ->type_name("R")
      ->check(finite_number([](double x) { return x > 0; }, "a finite number > 0"));
  sample->add_option("--stop", o->stop, "stop once the generated text ends with TEXT (printed too)")
      ->type_name("TEXT");
  sample->add_option("--seed", o->seed, "the same seed gives the same text")
      ->type_name("S")
      ->check(any_integer());
  sample->add_flag("--no-cache", o->no_cache,
                   "re-run the whole window for every token (slow; for comparison)");
  sample->footer(
      "Continues TEXT with the checkpoint's GPT and prints the result.\n"
      "The speed (tokens/s) is printed to stderr at the end.");
  sample->callback([o] {
    SamplingOptions options;
    options.max_new_tokens = static_cast<int>(o->max_new_tokens);
    options.temperature = static_cast<float>(o->temperature);
    options.top_k = static_cast<int>(std::min<long long>(o->top_k, INT32_MAX));
    options.top_p = static_cast<float>(o->top_p);
    options.repetition_penalty = static_cast<float>(o->repetition_penalty);
    options.stop = o->stop;
    options.use_cache = !o->no_cache;
    options.seed = static_cast<uint64_t>(o->seed);
    check_sampling_options(options);  // before loading the model and before any output
    const LoadedModel loaded = load_model(o->checkpoint);
    loaded.model.require({Arch::kGpt}, "kiln sample: " + loaded.path);
    const std::string& prompt = o->prompt;
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
    std::fprintf(stderr,
                 "[%d tokens in %.2f s: %.1f tokens/s (prompt of %zu tokens: %.3f s)%s%s]\n",
                 result.new_tokens, result.seconds, result.tokens_per_second(), ids.size(),
                 result.prompt_seconds, result.stopped ? ", stopped" : "",
                 options.use_cache ? "" : ", no cache");
  });
}

}  // namespace kiln::cli
