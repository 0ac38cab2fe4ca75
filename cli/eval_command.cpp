// kiln eval --checkpoint PATH [--data FILE]
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "io/json.h"
#include "train/checkpoint.h"
#include "train/registry.h"

namespace kiln::cli {

void add_eval_command(CLI::App& kiln) {
  struct Options {
    std::string checkpoint, data;
    int beam = 0;  // marian: 0 = the run's eval.beam
  };
  auto o = std::make_shared<Options>();
  CLI::App* eval =
      kiln.add_subcommand("eval", "loss and perplexity of a checkpoint on held-out text");
  eval->add_option("--checkpoint", o->checkpoint, "the checkpoint to evaluate")
      ->required()
      ->type_name("PATH");
  eval->add_option("--data", o->data, "evaluate on this file instead of the run's held-out data")
      ->type_name("FILE");
  eval->add_option("--beam", o->beam, "marian: decode with this beam (1 = greedy)")
      ->type_name("K")
      ->check(CLI::Range(1, 64))
      ->default_str("the run's eval.beam");
  eval->footer(
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
      "        data.format).\n"
      "  marian: val_loss, and bleu (sacreBLEU's defaults) and chrf over ALL held-out pairs\n"
      "        decoded with --beam (default the run's eval.beam).");
  eval->callback([o] {
    const std::string& path = o->checkpoint;
    Checkpoint checkpoint = load_checkpoint(path);
    Config config = parse_config(checkpoint.state.config_yaml, path + ":/config");
    if (!o->data.empty()) config.data.val_files = {o->data};
    if (o->beam > 0) config.eval.beam = o->beam;
    std::unique_ptr<Task> task = make_task(config, checkpoint.state.tokenizer);
    nn::ParameterArena arena(task->model());
    restore_checkpoint(checkpoint, arena, nullptr);
    const Metrics metrics = task->evaluate_all();
    json::Writer out = json::Writer::compact();
    out.begin_object().key("checkpoint").string(path).key("step").integer(checkpoint.state.step);
    if (config.model.arch == Arch::kMarian) out.key("beam").integer(config.eval.beam);
    for (const auto& [key, value] : metrics) out.key(key).number(value);
    std::printf("%s\n", out.end_object().text().c_str());
  });
}

}  // namespace kiln::cli
