// train_bpe: learns a new GPT-2 style byte-level BPE from text: the 256 byte tokens, then the
// most frequent adjacent pairs within GPT-2 pre-tokens, merged one at a time.
#pragma once

#include <string_view>
#include <vector>

#include "data/bpe.h"

namespace kiln {

// A tokenizer of `vocab_size` ids: the 256 single bytes (ids 0..255, in GPT-2's order), one
// token per merge of the most frequent pair (ties go to the pair whose left, then right,
// token bytes sort first), and kEndOfText as the last id. Stops early, with fewer ids, when
// no pairs remain. `vocab_size` must be at least 257. Deterministic.
BpeTokenizer train_bpe(const std::vector<std::string_view>& texts, int vocab_size);

}  // namespace kiln
