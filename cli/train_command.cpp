// kiln train CONFIG [--resume auto|PATH] [--set key.path=value ...]
#include <cstdio>

#include "base/error.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "train/trainer.h"

namespace kiln::cli {

int train_command(int argc, char** argv) {
  Args args("train", argc, argv, {"resume", "set"}, {"overwrite"});
  if (args.help()) {
    std::puts(
        "usage: kiln train CONFIG [--resume auto|PATH] [--overwrite] [--set key.path=value ...]\n"
        "\n"
        "Trains the model described by the YAML file CONFIG (see docs/config.md).\n"
        "  --resume auto   continue from the newest valid checkpoint in run.out_dir (damaged\n"
        "                  ones are skipped, with the reason), or start fresh when there is none\n"
        "  --resume PATH   continue from that checkpoint\n"
        "  --overwrite     a fresh run into a folder holding another run's checkpoints deletes\n"
        "                  them first (without it, that is refused)\n"
        "  --set k=v       override one config key, e.g. --set train.max_steps=100 (repeatable)\n"
        "Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits with 130 or 143 (128 + signal).\n"
        "Writes to run.out_dir: checkpoints (ckpt-*.h5), metrics.jsonl, loss.svg, config.yaml.");
    return 0;
  }
  KILN_CHECK(args.positionals().size() == 1, "kiln train: expected one CONFIG file, got ",
             args.positionals().size(), " (see 'kiln train --help')");
  TrainOptions options{args.positionals()[0], args.all("set"), args.get("resume"),
                       args.has("overwrite")};
  TrainResult result = train(options);
  return result.interrupted ? 128 + result.stop_signal : 0;
}

}  // namespace kiln::cli
