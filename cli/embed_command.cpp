// kiln embed --checkpoint PATH --text TEXT: a BERT (or bert-classifier) checkpoint's final
// hidden states and pooled [CLS] vector for one text, as JSON.
#include <cstdio>
#include <memory>
#include <string>

#include "base/error.h"
#include "cli/commands.h"
#include "train/embed.h"

namespace kiln::cli {

void add_embed_command(CLI::App& kiln) {
  struct Options {
    std::string checkpoint, text;
    std::vector<std::string> extra;
  };
  auto o = std::make_shared<Options>();
  CLI::App* embed = kiln.add_subcommand(
      "embed", "final hidden states and pooled vector of a BERT checkpoint for a text");
  embed->add_option("--checkpoint", o->checkpoint, "a BERT or bert-classifier checkpoint")
      ->required()
      ->type_name("PATH");
  embed->add_option("--text", o->text, "the text to embed")->required()->type_name("TEXT");
  embed->add_option("extra", o->extra)->group("");  // caught to explain unquoted TEXT
  embed->footer(
      "Runs a BERT or bert-classifier checkpoint's encoder (in eval mode; a classifier's\n"
      "head is not used) on [CLS] TEXT [SEP], tokenized with the checkpoint's WordPiece\n"
      "tokenizer, and prints one JSON line:\n"
      "  {\"tokens\":[...],\"ids\":[...],\"last_hidden_state_shape\":[1,T,d],\"pooled\":[d "
      "floats]}\n"
      "where pooled = tanh(dense(hidden state of [CLS])), BERT's sentence vector.");
  embed->callback([o] {
    KILN_CHECK(o->extra.empty(), "kiln embed: expected no arguments besides the options, ",
               "got \"", o->extra.empty() ? "" : o->extra[0], "\" (quote TEXT that holds spaces)");
    std::puts(embedding_json(load_model(o->checkpoint), o->text).c_str());
  });
}

}  // namespace kiln::cli
