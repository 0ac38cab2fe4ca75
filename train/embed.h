// BERT sentence embeddings for `kiln embed`: a checkpoint's final hidden states and pooled
// [CLS] vector for one text, as one JSON object.
#pragma once

#include <string>
#include <string_view>

#include "train/registry.h"

namespace kiln {

// Runs a bert or bert-classifier checkpoint's encoder (a classifier's head is not used) on
// [CLS] `text` [SEP] with its WordPiece tokenizer and returns
//   {"tokens":[...],"ids":[...],"last_hidden_state_shape":[1,T,d],"pooled":[d floats]}
// where pooled = tanh(dense(hidden state of [CLS])). Floats read back exactly. Another arch,
// or a text longer than model.max_seq_len - 2 pieces, is an error naming it.
std::string embedding_json(const LoadedModel& loaded, std::string_view text);

}  // namespace kiln
