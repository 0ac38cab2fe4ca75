// Fuzz target: WordPiece's vocab.txt loader and load_tokenizer's sniffing of a single file
// (a saved kiln tokenizer, a vocab.txt, ...), train/tokenizer_files.h.
#include <string_view>

#include "data/wordpiece.h"
#include "fuzz/fuzz_target.h"
#include "train/tokenizer_files.h"

KILN_FUZZ_TARGET(vocab_txt) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = kiln::fuzz::scratch_file("vocab.txt", bytes);
  const bool lowercase = size > 0 && (data[0] & 1);
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::WordPieceTokenizer wordpiece =
        kiln::WordPieceTokenizer::from_vocab_file(path, lowercase);
    // The serialised form (what a checkpoint carries) must read back to the same vocabulary.
    const auto again = kiln::WordPieceTokenizer::from_serialized(wordpiece.serialize());
    kiln::fuzz::require(again.fingerprint() == wordpiece.fingerprint(),
                        "WordPiece from_serialized(serialize()) keeps the vocabulary");
  });
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::Tokenizer tokenizer = kiln::load_tokenizer(path);
    const auto again = kiln::Tokenizer::from_serialized(tokenizer.serialize());
    kiln::fuzz::require(again.fingerprint() == tokenizer.fingerprint(),
                        "Tokenizer from_serialized(serialize()) keeps the tokenizer");
  });
  return 0;
}
