// Upper limits on config sizes and the memory a config implies, checked while the config is
// parsed so that nothing is allocated for a value that cannot work. Internal to train/.
#pragma once

#include <cstdint>
#include <string>

#include "train/config.h"
#include "train/config_schema.h"

namespace kiln {

// Sane upper bounds for single keys: far above any model a CPU trains, far below what would
// overflow the 32-bit sizes kiln's tensors use for one dimension.
inline constexpr int64_t kMaxModelWidth = 1 << 16;   // model.d_model
inline constexpr int64_t kMaxFeedForward = 1 << 18;  // model.d_ff
inline constexpr int64_t kMaxLayers = 1 << 20;       // model.n_layer (memory decides first)
inline constexpr int64_t kMaxPositions = 1 << 20;    // model.max_seq_len
inline constexpr int64_t kMaxVocabulary = 1 << 24;   // model.vocab_size, tokenizer_vocab_size
inline constexpr int64_t kMaxBatch = 1 << 20;        // train.batch_size, grad_accum, eval.batches
inline constexpr int64_t kMaxDupeFactor = 1000;      // data.dupe_factor (copies of the corpus)
inline constexpr int64_t kMaxThreads = 1 << 12;      // run.threads
inline constexpr int64_t kMaxLabels = 1 << 16;       // classifier labels

// a * b and a + b on sizes; false when the result would not fit int64.
bool checked_mul(int64_t a, int64_t b, int64_t& out);
bool checked_add(int64_t a, int64_t b, int64_t& out);

// What training the configured model needs, estimated from its sizes in 64-bit arithmetic.
struct ModelMemory {
  int64_t parameters = 0;    // weights (the vocabulary counted only when model.vocab_size is set)
  int64_t bytes = 0;         // weights, gradients, two AdamW moments, saved activations
  std::string dominant_key;  // the key whose term is largest: what to make smaller
  bool overflow = false;     // the sizes overflow int64: far beyond any memory
};
ModelMemory model_memory(const Config& config);

// This machine's physical memory in bytes (0 when unknown).
int64_t physical_memory_bytes();

// "1.5 GB", "3.1 TB": a byte count for messages.
std::string format_bytes(double bytes);

// Throws kiln::Error at the dominant key when the model needs more memory than this machine
// has: "<where>model.n_layer: 1000000 needs about 3.2 TB (...), more than this machine's ...".
void check_model_memory(const Config& config, const ConfigWhere& where);

}  // namespace kiln
