// kiln train CONFIG [--resume auto|PATH] [--overwrite] [--set key.path=value ...]
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "train/trainer.h"

namespace kiln::cli {

void add_train_command(CLI::App& kiln) {
  struct Options {
    std::string config;
    std::vector<std::string> sets;
    std::string resume;
    bool overwrite = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* train = kiln.add_subcommand("train", "train a model from a YAML config (resumable)");
  train->add_option("CONFIG", o->config, "the run's YAML file (see docs/config.md)")->required();
  train
      ->add_option("--resume", o->resume,
                   "auto: continue from the newest valid checkpoint in run.out_dir (damaged "
                   "ones are skipped, with the reason), or start fresh when there is none; "
                   "PATH: continue from that checkpoint")
      ->type_name("auto|PATH");
  train->add_flag("--overwrite", o->overwrite,
                  "a fresh run into a folder holding another run's checkpoints deletes them "
                  "first (without it, that is refused)");
  train
      ->add_option("--set", o->sets,
                   "override one config key, e.g. --set train.max_steps=100 (repeatable)")
      ->type_name("key.path=value")
      ->allow_extra_args(false);
  train->footer(
      "Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits with 130 or 143 (128 + signal).\n"
      "Writes to run.out_dir: checkpoints (ckpt-*.h5), metrics.jsonl, loss.svg, config.yaml.");
  train->callback([o] {
    TrainResult result = kiln::train(TrainOptions{o->config, o->sets, o->resume, o->overwrite});
    if (result.interrupted) exit_with(128 + result.stop_signal);
  });
}

}  // namespace kiln::cli
