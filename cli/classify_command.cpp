// kiln classify --checkpoint PATH --text TEXT
#include <cstdio>
#include <memory>
#include <string>

#include "base/error.h"
#include "cli/commands.h"
#include "io/json.h"
#include "train/classify_task.h"

namespace kiln::cli {

void add_classify_command(CLI::App& kiln) {
  struct Options {
    std::string checkpoint, text;
    std::vector<std::string> extra;
  };
  auto o = std::make_shared<Options>();
  CLI::App* classify = kiln.add_subcommand(
      "classify", "label probabilities of a text from a BERT classifier checkpoint");
  classify->add_option("--checkpoint", o->checkpoint, "a bert-classifier checkpoint")
      ->required()
      ->type_name("PATH");
  classify->add_option("--text", o->text, "the text to classify")->required()->type_name("TEXT");
  classify->add_option("extra", o->extra)->group("");  // caught to explain unquoted TEXT
  classify->footer(
      "Runs a sequence-classification checkpoint (model.arch bert-classifier, in eval mode) on\n"
      "[CLS] TEXT [SEP] (cut to train.seq_len tokens) and prints one JSON line:\n"
      "  {\"label\": \"<most likely label>\", \"probabilities\": {\"<label>\": p, ...}}\n"
      "with the labels in the order of the run's data.labels.");
  classify->callback([o] {
    KILN_CHECK(o->extra.empty(), "kiln classify: expected no arguments besides the options, got \"",
               o->extra.empty() ? "" : o->extra[0], "\" (quote TEXT that holds spaces)");
    const LoadedModel classifier = load_model(o->checkpoint);
    const std::vector<double> p = classify_text(classifier, o->text);
    const std::vector<std::string>& labels = classifier.config.data.labels;
    size_t best = 0;
    for (size_t i = 1; i < p.size(); ++i)
      if (p[i] > p[best]) best = i;
    json::Writer out = json::Writer::spaced();
    out.begin_object().key("label").string(labels[best]).key("probabilities").begin_object();
    for (size_t i = 0; i < p.size(); ++i) out.key(labels[i]).number(p[i]);
    std::printf("%s\n", out.end_object().end_object().text().c_str());
  });
}

}  // namespace kiln::cli
