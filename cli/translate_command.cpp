// kiln translate --checkpoint PATH [--beam K --max-new-tokens N --length-penalty L --text T]
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/registry.h"
#include "train/translate_task.h"

namespace kiln::cli {

int translate_command(int argc, char** argv) {
  Args args("translate", argc, argv,
            {"checkpoint", "beam", "max-new-tokens", "length-penalty", "text"});
  if (args.help()) {
    std::puts(
        "usage: kiln translate --checkpoint PATH [options] < source.txt\n"
        "\n"
        "Translates each line of stdin (or --text) with the checkpoint's encoder-decoder and\n"
        "prints one translation a line, in order.\n"
        "  --beam K            beam search with K beams; 1 = greedy (default 4)\n"
        "  --max-new-tokens N  tokens generated per line at most, eos included\n"
        "                      (default: the model's max_seq_len)\n"
        "  --length-penalty L  a finished beam scores sum log p / length^L (default 1)\n"
        "  --text T            translate T instead of reading stdin (repeatable)\n"
        "\n"
        "Sources longer than the model's max_seq_len are cut to it.");
    return 0;
  }
  const LoadedModel loaded = load_model(args.require("checkpoint"));
  loaded.model.require({Arch::kMarian}, "kiln translate: " + loaded.path);
  const int64_t max_len = loaded.model.marian->config().max_position_embeddings;
  nn::DecodeOptions options;
  options.beam = args.get_int("beam", 4);
  options.max_new_tokens = args.get_int("max-new-tokens", max_len);
  options.length_penalty = static_cast<float>(args.get_double("length-penalty", 1.0));
  KILN_CHECK(options.beam >= 1, "kiln translate: --beam: expected an integer >= 1, got ",
             options.beam);
  KILN_CHECK(options.max_new_tokens >= 1 && options.max_new_tokens <= max_len,
             "kiln translate: --max-new-tokens: expected an integer in [1, ", max_len,
             "] (the model's positions), got ", options.max_new_tokens);
  std::vector<std::string> lines = args.all("text");
  if (lines.empty())
    for (std::string line; std::getline(std::cin, line);) lines.push_back(line);
  const BpeTokenizer& tokenizer = *loaded.tokenizer.as<BpeTokenizer>();
  for (const std::string& t :
       translate_texts(*loaded.model.marian, tokenizer, lines, max_len, options))
    std::printf("%s\n", t.c_str());
  return 0;
}

}  // namespace kiln::cli
