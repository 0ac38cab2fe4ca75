// BERT's basic tokenizer (google-research/bert BasicTokenizer, Hugging Face BertTokenizer):
// text cleaning, spaces around CJK ideographs, whitespace and punctuation splitting, and for
// uncased vocabularies lower-casing and accent stripping. Unicode properties come from ICU.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// The words of `text`, in order, as UTF-8, exactly as BERT's BasicTokenizer splits them:
//  - drops U+0000, U+FFFD and every category C* character except \t \n \r;
//  - splits on \t \n \r, categories Zs, Zl and Zp, and around each CJK ideograph;
//  - if `lowercase`: lower-cases (full mapping, root locale), decomposes (NFD) and drops
//    combining marks (Mn) without recomposing, as the original does;
//  - makes every punctuation character (ASCII 33-47, 58-64, 91-96, 123-126, category P*) a
//    word of its own.
// Invalid UTF-8 is an error naming `where` and the byte offset (`base_offset` + offset).
std::vector<std::string> bert_basic_tokenize(std::string_view text, bool lowercase,
                                             std::string_view where = "text",
                                             uint64_t base_offset = 0);

}  // namespace kiln
