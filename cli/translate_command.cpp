// kiln translate --checkpoint PATH [--beam K --max-new-tokens N --length-penalty L --text T]
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "train/registry.h"
#include "train/translate_task.h"

namespace kiln::cli {

void add_translate_command(CLI::App& kiln) {
  struct Options {
    std::string checkpoint;
    long long beam = 4, max_new_tokens = 0;  // 0: the model's positions
    double length_penalty = 1.0;
    std::vector<std::string> texts;
  };
  auto o = std::make_shared<Options>();
  CLI::App* translate = kiln.add_subcommand(
      "translate", "translate lines with an encoder-decoder (marian) checkpoint");
  translate->add_option("--checkpoint", o->checkpoint, "a marian checkpoint")
      ->required()
      ->type_name("PATH");
  translate->add_option("--beam", o->beam, "beam search with K beams; 1 = greedy")
      ->type_name("K")
      ->check(integer_in(1, 64));
  translate
      ->add_option("--max-new-tokens", o->max_new_tokens,
                   "tokens generated per line at most, eos included")
      ->type_name("N")
      ->check(integer_in(1))
      ->default_str("the model's max_seq_len");
  translate
      ->add_option("--length-penalty", o->length_penalty,
                   "a finished beam scores sum log p / length^L")
      ->type_name("L")
      ->check(finite_number([](double) { return true; }, "a finite number"));
  translate->add_option("--text", o->texts, "translate T instead of reading stdin (repeatable)")
      ->type_name("T")
      ->default_str("");
  translate->footer(
      "Translates each line of stdin (or --text) with the checkpoint's encoder-decoder and\n"
      "prints one translation a line, in order. Sources longer than the model's max_seq_len\n"
      "are cut to it.");
  translate->callback([o] {
    const LoadedModel loaded = load_model(o->checkpoint);
    loaded.model.require({Arch::kMarian}, "kiln translate: " + loaded.path);
    const int64_t max_len = loaded.model.marian->config().max_position_embeddings;
    nn::DecodeOptions options;
    options.beam = static_cast<int>(o->beam);
    options.max_new_tokens = o->max_new_tokens > 0 ? o->max_new_tokens : max_len;
    options.length_penalty = static_cast<float>(o->length_penalty);
    KILN_CHECK(options.max_new_tokens <= max_len,
               "kiln translate: --max-new-tokens: expected an integer in [1, ", max_len,
               "] (the model's positions), got ", options.max_new_tokens);
    std::vector<std::string> lines = o->texts;
    if (lines.empty())
      for (std::string line; std::getline(std::cin, line);) lines.push_back(line);
    const BpeTokenizer& tokenizer = *loaded.tokenizer.as<BpeTokenizer>();
    for (const std::string& t :
         translate_texts(*loaded.model.marian, tokenizer, lines, max_len, options))
      std::printf("%s\n", t.c_str());
  });
}

}  // namespace kiln::cli
