// Corpus: the raw text of the train and validation splits, loaded from files or given
// directly, with a record of which file each byte came from, plus a content fingerprint.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/hash.h"  // fnv1a_64: the fingerprints here and in the tokenizers

namespace kiln {

enum class Split { kTrain, kValidation };

// "train" or "validation": how splits are named in messages.
const char* split_name(Split split);

// Reads a whole file as bytes; errors name the path and the OS error.
std::string read_text_file(const std::string& path);

// A run of a split's text that came from one source, so errors can say "<path>: byte N".
struct CorpusPiece {
  std::string_view text;   // view into the split's text
  std::string source;      // file path, or the name given to from_text
  uint64_t source_offset;  // byte offset of text[0] within the source
};

// Files are concatenated in order with a "\n" appended to every file that does not end in
// one, so the last line of a file never runs into the first line of the next.
class Corpus {
 public:
  // Concatenates `paths`; the last `validation_fraction` of the bytes (moved back to a UTF-8
  // character boundary) becomes the validation split. A fraction of 0 leaves it empty.
  static Corpus from_files(const std::vector<std::string>& paths, double validation_fraction);
  // Train and validation text from separate files; both must be non-empty.
  static Corpus from_files(const std::vector<std::string>& train_paths,
                           const std::vector<std::string>& validation_paths);
  // One in-memory text split like from_files; `name` stands for the path in messages.
  static Corpus from_text(std::string text, double validation_fraction, std::string name = "text");

  const std::string& text(Split split) const;
  // The split's text in order, one piece per contiguous run of one source.
  std::vector<CorpusPiece> pieces(Split split) const;
  // Hash of both splits' bytes and of where one ends: equal fingerprints mean equal text.
  uint64_t fingerprint() const;

 private:
  Corpus() = default;  // only the factories, which check for empty text, make one

  // Where a source's bytes start in a split's text.
  struct Span {
    std::string source;
    uint64_t begin;          // offset in the split's text
    uint64_t source_offset;  // offset in the source
  };
  struct Part {
    std::string text;
    std::vector<Span> spans;
  };

  static Part concatenate(const std::vector<std::string>& paths, const char* what);
  static Corpus split_by_fraction(Part all, double validation_fraction);

  Part train_;
  Part validation_;
};

}  // namespace kiln
