// The fixed tokenizers of fuzz_tokenizers.h.
#include "fuzz/fuzz_tokenizers.h"

#include <string>
#include <vector>

#include "data/bpe_trainer.h"

namespace kiln::fuzz {
namespace {

// Text with the shapes tokenizers care about: words, contractions, numbers, spaces and
// newlines, punctuation, accents, CJK and an emoji.
constexpr const char* kSampleText =
    "In the beginning God created the heaven and the earth. And the earth was without form, "
    "and void; and darkness was upon the face of the deep.\n"
    "It's 12:30 -- don't you think? We'll see, they're 100% sure!\n"
    "Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 "
    "\xf0\x9f\x98\x80 \xce\xb1\xce\xb2\xce\xb3 \t tabs\r\n";

}  // namespace

const WordPieceTokenizer& small_wordpiece(bool lowercase) {
  static const auto build = [](bool lower) {
    std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (const char* t : {"the",
                          "and",
                          "in",
                          "be",
                          "##gin",
                          "##ning",
                          "god",
                          "earth",
                          "was",
                          "a",
                          "##s",
                          "##ed",
                          "##ing",
                          "un",
                          "##aff",
                          "##able",
                          ".",
                          ",",
                          "!",
                          "?",
                          "'",
                          "-",
                          "1",
                          "##2",
                          "##0",
                          "cafe",
                          "caf",
                          "##\xc3\xa9",
                          "\xc3\xa9",
                          "\xe4\xb8\xad",
                          "\xe6\x96\x87",
                          "##\xe6\x96\x87",
                          "\xce\xb1",
                          "##\xce\xb2",
                          "The",
                          "God",
                          "In",
                          "x",
                          "##x"})
      tokens.emplace_back(t);
    return WordPieceTokenizer::from_tokens(tokens, lower);
  };
  static const WordPieceTokenizer uncased = build(true);
  static const WordPieceTokenizer cased = build(false);
  return lowercase ? uncased : cased;
}

const BpeTokenizer& small_bpe() {
  static const BpeTokenizer bpe = train_bpe({kSampleText, kSampleText}, 256 + 120);
  return bpe;
}

const CharTokenizer& small_char() {
  static const CharTokenizer tokenizer = CharTokenizer::from_text(kSampleText);
  return tokenizer;
}

}  // namespace kiln::fuzz
