// kiln eval --checkpoint PATH [--data FILE]
#include <cmath>
#include <cstdio>
#include <memory>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/json.h"
#include "train/checkpoint.h"
#include "train/registry.h"

namespace kiln::cli {

int eval_command(int argc, char** argv) {
  Args args("eval", argc, argv, {"checkpoint", "data"});
  if (args.help()) {
    std::puts(
        "usage: kiln eval --checkpoint PATH [--data FILE]\n"
        "\n"
        "Prints one JSON line of evaluation metrics for a checkpoint.\n"
        "  GPT:  val_loss and perplexity, the mean next-token loss over ALL non-overlapping\n"
        "        seq_len windows of the run's validation split, or of FILE.\n"
        "  BERT: val_loss (= mlm_loss + nsp_loss), mlm_loss, nsp_loss, mlm_acc, nsp_acc and\n"
        "        nsp_majority_acc (always answering the more frequent NSP label) over the run's\n"
        "        fixed held-out examples, or over examples built from FILE's documents (one\n"
        "        sentence a line, a blank line between documents; random next segments come\n"
        "        from where the run's data.held_out_random_next says).\n"
        "  BERT classifier: val_loss, accuracy, majority_acc, count_<label> and correct_<label>\n"
        "        over ALL the run's held-out examples, or over FILE (labelled text in the run's\n"
        "        data.format).");
    return 0;
  }
  const std::string path = args.require("checkpoint");
  Checkpoint checkpoint = load_checkpoint(path);
  Config config = parse_config(checkpoint.state.config_yaml, path + ":/config");
  if (args.has("data")) config.data.val_files = {args.get("data")};
  std::unique_ptr<Task> task = make_task(config, checkpoint.state.tokenizer);
  nn::ParameterArena arena(task->model());
  restore_checkpoint(checkpoint, arena, nullptr);
  const Metrics metrics = task->evaluate_all();
  json::Writer out = json::Writer::compact();
  out.begin_object().key("checkpoint").string(path).key("step").integer(checkpoint.state.step);
  for (const auto& [key, value] : metrics) out.key(key).number(value);
  std::printf("%s\n", out.end_object().text().c_str());
  return 0;
}

}  // namespace kiln::cli
