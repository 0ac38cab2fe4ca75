// train_wordpiece: learns a WordPiece vocabulary from text by merging adjacent pieces of the
// words BERT's basic tokenizer finds, until the vocabulary has the requested size.
#pragma once

#include <string>
#include <vector>

#include "data/wordpiece.h"

namespace kiln {

// How the next pair of adjacent pieces (a, b) to merge is chosen.
enum class WordPieceScore {
  // count(ab) / (count(a) * count(b)): the WordPiece likelihood score. It prefers pairs whose
  // parts seldom occur apart, so rare strings come first: at 8000 tokens on fortunes.txt it
  // spends merges on digit strings and needs 2.6x the tokens of kFrequency for the corpus.
  kLikelihood,
  // count(ab): BPE's rule, which Hugging Face tokenizers' WordPieceTrainer uses (it wraps its
  // BpeTrainer). Common words become whole tokens: the default.
  kFrequency,
};

// A vocabulary of at most `vocab_size` tokens: [PAD] [UNK] [CLS] [SEP] [MASK] as ids 0..4, then
// every character seen as a word start, then in its "##" form (each sorted by code point), then
// one token per merge in merge order. Ties go to the more frequent pair, then to the pair of
// lower ids, so the result is deterministic. Fewer tokens come back only when every word is
// already a single token. Words over `max_word_chars` characters are skipped: they encode as
// [UNK] anyway, and the tokenizer returned keeps that limit. A `vocab_size` too small for the
// characters, or text without words, is an error.
WordPieceTokenizer train_wordpiece(const std::vector<std::string>& texts, int vocab_size,
                                   bool lowercase,
                                   WordPieceScore score = WordPieceScore::kFrequency,
                                   int max_word_chars = kDefaultMaxWordChars);

}  // namespace kiln
