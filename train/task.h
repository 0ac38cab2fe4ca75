// Task: what the shared training loop needs from a model family (GPT, BERT): the model, a
// loss for micro-batch (step, i), evaluation metrics, and the tokenizer to save.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"
#include "nn/module.h"
#include "train/config.h"

namespace kiln {

using Metrics = std::vector<std::pair<std::string, double>>;

// The loss of one micro-batch (on the tape) and the task's own numbers about it
// (mlm_loss, nsp_acc, ...), which the loop averages into its log lines.
struct TrainLoss {
  Tensor loss;
  Metrics metrics;
};

// Rows [begin(B), end(B)) of a micro-batch of B rows: a rank's share when the ranks of a
// data-parallel run split each micro-batch. The default is the whole micro-batch.
struct Shard {
  int index = 0;
  int count = 1;
  int begin(int rows) const { return rows * index / count; }
  int end(int rows) const { return rows * (index + 1) / count; }
};

class Task {
 public:
  virtual ~Task() = default;
  virtual nn::Module& model() = 0;
  // The training loss of rows `shard` of micro-batch `micro` of optimizer step `step`,
  // recorded on the tape. Which data it sees is a pure function of (seed, step, micro).
  virtual TrainLoss train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) = 0;
  virtual int64_t tokens_per_micro_batch() const = 0;
  // Passes over the training data made after `steps` optimizer steps (shown in the log, so a
  // small fine-tuning corpus visibly repeats).
  virtual double epochs_after(int64_t steps) const = 0;
  // Metrics over the fixed evaluation batches, in evaluation mode; includes "val_loss".
  virtual Metrics evaluate() = 0;
  // The metrics `kiln eval` prints: over ALL held-out data where the task can afford it
  // (GPT: every window), else what evaluate() gives.
  virtual Metrics evaluate_all() { return evaluate(); }
  virtual std::string serialized_tokenizer() const = 0;
  // What the task made of its data (counts of pairs cut or left out, ...), shown once at the
  // start of a run; empty = nothing to say.
  virtual std::string data_summary() const { return ""; }
};

}  // namespace kiln
