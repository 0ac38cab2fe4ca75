// Checkpoints: everything needed to continue a run bit-identically, in one HDF5 file whose
// /model datasets carry Hugging Face names and shapes (see docs/checkpoint.md).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "nn/adamw.h"
#include "nn/parameter_arena.h"

namespace kiln {

inline constexpr const char* kCheckpointFormat = "kiln-checkpoint";
inline constexpr int64_t kCheckpointVersion = 1;

// The non-tensor part of a checkpoint.
struct CheckpointState {
  int64_t step = 0;                 // optimizer steps completed; batch `step` is the next one drawn
  int64_t tokens_seen = 0;          // training tokens consumed so far
  std::string config_yaml;          // the resolved config of the run
  std::string tokenizer;            // the serialised tokenizer
  double best_val_loss = INFINITY;  // lowest val_loss so far (for checkpoint.keep_best)
};

struct Checkpoint {
  std::string path;
  CheckpointState state;
  std::map<std::string, Tensor> model;       // Hugging Face name -> tensor
  std::map<std::string, Tensor> exp_avg;     // AdamW first moments, same names (may be empty)
  std::map<std::string, Tensor> exp_avg_sq;  // AdamW second moments
  int64_t optimizer_steps = 0;
};

// The optimizer state a checkpoint stores: AdamW's step count and its two moments over the
// whole arena, asked for one at a time (moment 0 = exp_avg, then 1 = exp_avg_sq), so that a
// sharded optimizer can gather each in turn into one buffer.
struct OptimizerMoments {
  int64_t steps_taken = 0;
  std::function<const float*(int moment)> whole;
};
// An unsharded AdamW's moments.
OptimizerMoments moments_of(const nn::AdamW& optimizer);

// Writes `path` atomically: to "<path>.tmp", fsync, rename, fsync of the directory. An
// existing file at `path` is replaced only once the new one is complete.
void save_checkpoint(const std::string& path, const nn::ParameterArena& arena,
                     const OptimizerMoments* optimizer, const CheckpointState& state);
// The same with an unsharded AdamW (or none).
void save_checkpoint(const std::string& path, const nn::ParameterArena& arena,
                     const nn::AdamW* optimizer, const CheckpointState& state);
// Weights only (an imported model).
inline void save_checkpoint(const std::string& path, const nn::ParameterArena& arena,
                            std::nullptr_t, const CheckpointState& state) {
  save_checkpoint(path, arena, static_cast<const OptimizerMoments*>(nullptr), state);
}

// Reads and validates a checkpoint (format name and version); errors name the path.
Checkpoint load_checkpoint(const std::string& path);

// Copies the checkpoint's weights (and moments, when `optimizer` is given) into the arena,
// by name. A missing name or a shape that differs is an error naming both.
void restore_checkpoint(const Checkpoint& checkpoint, const nn::ParameterArena& arena,
                        nn::AdamW* optimizer);

// What restore_matching copied and what it could not.
struct RestoreReport {
  std::vector<std::string> initialised;  // model names the checkpoint lacks: left as built
  std::vector<std::string> unused;       // checkpoint names the model lacks: ignored
};

// For fine-tuning (model.init_from) into a model whose heads differ: copies each checkpoint
// weight whose name the arena has; optimizer moments are not read. A name in both with
// different shapes is an error naming both shapes.
RestoreReport restore_matching(const Checkpoint& checkpoint, const nn::ParameterArena& arena);

// "<dir>/ckpt-00001200.h5" for step 1200.
std::string checkpoint_path(const std::string& dir, int64_t step);
// The periodic checkpoints (ckpt-<step>.h5) in `dir`, newest (highest step) first.
std::vector<std::string> list_checkpoints(const std::string& dir);
// The newest checkpoint in `dir` that `validate` accepts (it throws kiln::Error for a damaged
// one); each one refused is passed to `skipped` with the reason. None: nullopt.
std::optional<std::string> find_latest_checkpoint(
    const std::string& dir, const std::function<void(const std::string&)>& validate,
    const std::function<void(const std::string&, const std::string&)>& skipped);
// Deletes all but the newest `keep` checkpoints in `dir`.
void prune_checkpoints(const std::string& dir, int keep);

}  // namespace kiln
