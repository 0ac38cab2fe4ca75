// The training loop shared by every task: forward, backward, clip, AdamW step, schedule;
// periodic evaluation, logging, metrics, plots and checkpoints; exact resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/config.h"

namespace kiln {

struct TrainOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // --set key.path=value
  std::string resume;                  // "" (fresh), "auto", or a checkpoint path
  bool overwrite = false;              // a fresh run may delete an earlier run's files
};

struct TrainResult {
  int64_t final_step = 0;
  bool interrupted = false;     // stopped by SIGINT/SIGTERM (a checkpoint was written)
  int stop_signal = 0;          // which of the two, when interrupted
  std::string last_checkpoint;  // path of the checkpoint written last
  double last_val_loss = 0;
};

// Runs (or resumes) training as configured. Progress goes to stderr; metrics.jsonl,
// loss.svg and checkpoints go to run.out_dir.
TrainResult train(const TrainOptions& options);

}  // namespace kiln
