// kiln eval --checkpoint PATH [--data FILE]
#include <cmath>
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/corpus.h"
#include "train/checkpoint.h"
#include "train/gpt_task.h"

namespace kiln::cli {

int eval_command(int argc, char** argv) {
  Args args("eval", argc, argv, {"checkpoint", "data"});
  if (args.help()) {
    std::puts(
        "usage: kiln eval --checkpoint PATH [--data FILE]\n"
        "\n"
        "Prints JSON with val_loss and perplexity: the mean next-token loss over ALL\n"
        "non-overlapping seq_len windows of the run's validation split, or of FILE.");
    return 0;
  }
  const std::string path = args.require("checkpoint");
  Checkpoint checkpoint = load_checkpoint(path);
  Config config = parse_config(checkpoint.state.config_yaml, path + ":/config");
  GptTask task(config, checkpoint.state.tokenizer);
  nn::ParameterArena arena(task.model());
  restore_checkpoint(checkpoint, arena, nullptr);
  std::vector<int32_t> tokens = task.validation_tokens();
  if (args.has("data")) {
    const std::string file = args.get("data");
    tokens = task.tokenizer().encode(read_text_file(file), file);
  }
  double loss = task.mean_loss_over_windows(tokens);
  std::printf("{\"checkpoint\":\"%s\",\"step\":%lld,\"val_loss\":%.6f,\"perplexity\":%.4f}\n",
              path.c_str(), static_cast<long long>(checkpoint.state.step), loss, std::exp(loss));
  return 0;
}

}  // namespace kiln::cli
