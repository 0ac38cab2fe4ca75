// kiln embed --checkpoint PATH --text TEXT: a BERT (or bert-classifier) checkpoint's final
// hidden states and pooled [CLS] vector for one text, as JSON.
#include <cstdio>
#include <string>

#include "base/error.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "train/embed.h"

namespace kiln::cli {

int embed_command(int argc, char** argv) {
  Args args("embed", argc, argv, {"checkpoint", "text"});
  if (args.help()) {
    std::puts(
        "usage: kiln embed --checkpoint PATH --text TEXT\n"
        "\n"
        "Runs a BERT or bert-classifier checkpoint's encoder (in eval mode; a classifier's\n"
        "head is not used) on [CLS] TEXT [SEP], tokenized with the checkpoint's WordPiece\n"
        "tokenizer, and prints one JSON line:\n"
        "  {\"tokens\":[...],\"ids\":[...],\"last_hidden_state_shape\":[1,T,d],\"pooled\":[d "
        "floats]}\n"
        "where pooled = tanh(dense(hidden state of [CLS])), BERT's sentence vector.");
    return 0;
  }
  const std::string path = args.require("checkpoint");
  const std::string text = args.require("text");
  KILN_CHECK(args.positionals().empty(), "kiln embed: expected no arguments besides the options, ",
             "got \"", args.positionals()[0], "\" (quote TEXT that holds spaces)");
  std::puts(embedding_json(load_model(path), text).c_str());
  return 0;
}

}  // namespace kiln::cli
