// Fuzz target: WordPiece, BPE and char tokenizers' encode (and decode) on arbitrary bytes. The
// first byte picks the tokenizer; the rest is the text.
#include <string_view>

#include "fuzz/fuzz_target.h"
#include "fuzz/fuzz_tokenizers.h"

KILN_FUZZ_TARGET(tokenizer_encode) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
    case 1:
      kiln::fuzz::refusal_is_fine([&] {
        const kiln::WordPieceTokenizer& wordpiece = kiln::fuzz::small_wordpiece(data[0] % 4 == 0);
        const std::vector<int32_t> ids = wordpiece.encode(text, "fuzz");
        for (int32_t id : ids)
          kiln::fuzz::require(id >= 0 && id < wordpiece.vocab_size(), "WordPiece ids in range");
        (void)wordpiece.decode(ids);
      });
      break;
    case 2: {
      // BPE never refuses: any bytes have an encoding, and decoding gives them back exactly.
      const kiln::BpeTokenizer& bpe = kiln::fuzz::small_bpe();
      kiln::fuzz::require(bpe.decode(bpe.encode(text)) == text, "BPE decode(encode(x)) == x");
      break;
    }
    default:
      kiln::fuzz::refusal_is_fine([&] {
        const kiln::CharTokenizer& chars = kiln::fuzz::small_char();
        const std::vector<int32_t> ids = chars.encode(text, "fuzz");
        kiln::fuzz::require(chars.decode(ids) == text, "char decode(encode(x)) == x");
      });
      break;
  }
  return 0;
}
