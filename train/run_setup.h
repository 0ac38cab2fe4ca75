// Everything a training run needs before its first step: the config, resume or fine-tune
// decisions, the task, the flat parameter arena, the optimizer, the schedule and the state to
// continue from. The loop itself is train/trainer.cpp.
#pragma once

#include <memory>
#include <string>

#include "dist/communicator.h"
#include "nn/adamw.h"
#include "nn/parameter_arena.h"
#include "nn/schedule.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/interval_log.h"
#include "train/task.h"
#include "train/trainer.h"

namespace kiln {

struct Run {
  Config config;
  std::unique_ptr<Task> task;
  std::unique_ptr<nn::ParameterArena> arena;
  std::unique_ptr<nn::AdamW> optimizer;
  nn::Schedule schedule;
  CheckpointState state;  // step, tokens seen, best val_loss; config and tokenizer to save
};

// Loads the config; picks the checkpoint to resume from (--resume auto skips damaged ones,
// saying which and why, and refuses when checkpoints exist but none is usable); refuses a
// fresh run into a folder that holds another run's checkpoints unless `overwrite`, which
// removes them first; applies model.init_from; sets the thread count; writes config.yaml.
// Notes for the user go to `progress`.
// Under mpirun every rank prepares the same Run; rank 0 alone writes or removes files, and it
// builds the task (and so the token cache) before the others read it.
Run prepare_run(const TrainOptions& options, Progress& progress, const dist::Communicator& comm);

}  // namespace kiln
