// Fuzz target: GPT-2 BPE's vocab.json / encoder.json and merges.txt / vocab.bpe loaders
// (data/bpe.h from_strings). The input is the vocabulary, a NUL byte, then the merges.
#include <string_view>

#include "data/bpe.h"
#include "fuzz/fuzz_target.h"

KILN_FUZZ_TARGET(bpe_files) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t nul = bytes.find('\0');
  const std::string_view vocab = bytes.substr(0, nul);
  const std::string_view merges =
      nul == std::string_view::npos ? std::string_view() : bytes.substr(nul + 1);
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::BpeTokenizer bpe =
        kiln::BpeTokenizer::from_strings(vocab, merges, "encoder.json", "vocab.bpe");
    const kiln::BpeTokenizer written =
        kiln::BpeTokenizer::from_strings(bpe.to_vocab_json(), bpe.to_merges_txt());
    kiln::fuzz::require(written.fingerprint() == bpe.fingerprint(),
                        "BPE files written by kiln read back to the same tokenizer");
    const auto again = kiln::BpeTokenizer::from_serialized(bpe.serialize());
    kiln::fuzz::require(again.fingerprint() == bpe.fingerprint(),
                        "BPE from_serialized(serialize()) keeps the tokenizer");
    // Any bytes have an encoding, and decoding gives them back.
    kiln::fuzz::require(bpe.decode(bpe.encode(merges)) == merges, "BPE decode(encode(x)) == x");
  });
  return 0;
}
