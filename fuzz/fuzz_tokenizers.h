// Small fixed tokenizers of each kind for the encode fuzz targets: built in code, so the
// targets need no corpus files, and with non-ASCII pieces so Unicode paths are reached.
#pragma once

#include "data/tokenizer.h"

namespace kiln::fuzz {

// A WordPiece vocabulary of the special tokens, some words, "##" pieces and CJK/accented
// characters; uncased or cased.
const WordPieceTokenizer& small_wordpiece(bool lowercase);
// A byte-level BPE trained on a fixed text (every byte has a token; a few hundred merges).
const BpeTokenizer& small_bpe();
// A character vocabulary of ASCII letters, digits, punctuation and a few non-ASCII letters.
const CharTokenizer& small_char();

}  // namespace kiln::fuzz
