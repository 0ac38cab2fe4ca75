// kiln classify --checkpoint PATH --text TEXT
#include <cstdio>
#include <string>

#include "base/error.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/json.h"
#include "train/classify_task.h"

namespace kiln::cli {

int classify_command(int argc, char** argv) {
  Args args("classify", argc, argv, {"checkpoint", "text"});
  if (args.help()) {
    std::puts(
        "usage: kiln classify --checkpoint PATH --text TEXT\n"
        "\n"
        "Runs a sequence-classification checkpoint (model.arch bert-classifier, in eval mode) on\n"
        "[CLS] TEXT [SEP] (cut to train.seq_len tokens) and prints one JSON line:\n"
        "  {\"label\": \"<most likely label>\", \"probabilities\": {\"<label>\": p, ...}}\n"
        "with the labels in the order of the run's data.labels.");
    return 0;
  }
  const std::string path = args.require("checkpoint");
  const std::string text = args.require("text");
  KILN_CHECK(args.positionals().empty(),
             "kiln classify: expected no arguments besides the options, got \"",
             args.positionals()[0], "\" (quote TEXT that holds spaces)");
  const LoadedModel classifier = load_model(path);
  const std::vector<double> p = classify_text(classifier, text);
  const std::vector<std::string>& labels = classifier.config.data.labels;
  size_t best = 0;
  for (size_t i = 1; i < p.size(); ++i)
    if (p[i] > p[best]) best = i;
  json::Writer out = json::Writer::spaced();
  out.begin_object().key("label").string(labels[best]).key("probabilities").begin_object();
  for (size_t i = 0; i < p.size(); ++i) out.key(labels[i]).number(p[i]);
  std::printf("%s\n", out.end_object().end_object().text().c_str());
  return 0;
}

}  // namespace kiln::cli
