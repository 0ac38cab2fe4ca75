// Corpus loading, concatenation, the train/validation split and the content fingerprint.
#include "data/corpus.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "base/error.h"
#include "io/utf8.h"

namespace kiln {
namespace {

std::string join_paths(const std::vector<std::string>& paths) {
  std::string joined;
  for (const auto& path : paths) joined += (joined.empty() ? "'" : ", '") + path + "'";
  return joined;
}

// The most bytes a corpus file may hold: the machine's physical memory (no limit if unknown).
uint64_t memory_limit_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return UINT64_MAX;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

}  // namespace

const char* split_name(Split split) {
  return split == Split::kTrain ? "train" : "validation";
}

std::string read_text_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  KILN_CHECK(file != nullptr, "corpus: cannot open '", path, "': ", std::strerror(errno));
  // A device (/dev/zero, /dev/urandom) never ends: refuse it before reading, and never read
  // more than this machine's memory from a pipe or a file.
  struct stat info {};
  KILN_CHECK(::fstat(::fileno(file.get()), &info) == 0, "corpus: cannot stat '", path,
             "': ", std::strerror(errno));
  KILN_CHECK(!S_ISCHR(info.st_mode) && !S_ISBLK(info.st_mode), "corpus: '", path,
             "': expected a regular file or a pipe, got a ",
             S_ISCHR(info.st_mode) ? "character" : "block", " device");
  const uint64_t limit = memory_limit_bytes();
  KILN_CHECK(!S_ISREG(info.st_mode) || static_cast<uint64_t>(info.st_size) <= limit, "corpus: '",
             path, "': expected at most ", limit, " bytes (this machine's memory), got a file of ",
             info.st_size, " bytes");
  std::string bytes;
  if (S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    KILN_CHECK(bytes.size() + got <= limit, "corpus: '", path, "': expected at most ", limit,
               " bytes (this machine's memory), got more");
    bytes.append(buffer, got);
  }
  // fopen succeeds on a directory on Linux; the read is what fails (EISDIR).
  KILN_CHECK(!std::ferror(file.get()), "corpus: cannot read '", path, "' (after ", bytes.size(),
             " bytes): ", std::strerror(errno));
  return bytes;
}

Corpus Corpus::from_files(const std::vector<std::string>& paths, double validation_fraction) {
  return split_by_fraction(concatenate(paths, "corpus"), validation_fraction);
}

Corpus Corpus::from_files(const std::vector<std::string>& train_paths,
                          const std::vector<std::string>& validation_paths) {
  Corpus corpus;
  corpus.train_ = concatenate(train_paths, "corpus");
  corpus.validation_ = concatenate(validation_paths, "validation corpus");
  return corpus;
}

Corpus Corpus::from_text(std::string text, double validation_fraction, std::string name) {
  KILN_CHECK(!text.empty(), "corpus: expected a non-empty corpus, got 0 bytes from '", name, "'");
  Part all;
  all.spans.push_back({std::move(name), 0, 0});
  all.text = std::move(text);
  return split_by_fraction(std::move(all), validation_fraction);
}

Corpus::Part Corpus::concatenate(const std::vector<std::string>& paths, const char* what) {
  KILN_CHECK(!paths.empty(), "corpus: expected at least one file for the ", what, ", got none");
  Part part;
  for (const auto& path : paths) {
    std::string bytes = read_text_file(path);
    if (bytes.empty()) continue;
    part.spans.push_back({path, part.text.size(), 0});
    part.text += bytes;
    if (bytes.back() != '\n') part.text += '\n';
  }
  KILN_CHECK(!part.text.empty(), "corpus: expected a non-empty ", what, ", got 0 bytes from ",
             paths.size(), " file(s): ", join_paths(paths));
  return part;
}

Corpus Corpus::split_by_fraction(Part all, double validation_fraction) {
  // Written so that NaN fails too.
  KILN_CHECK(validation_fraction >= 0.0 && validation_fraction < 1.0,
             "corpus: expected validation_fraction in [0, 1), got ", validation_fraction);
  const uint64_t size = all.text.size();
  const auto validation_bytes =
      static_cast<uint64_t>(std::llround(static_cast<double>(size) * validation_fraction));
  uint64_t split = size - validation_bytes;
  // Moving back keeps a multi-byte character whole, in the validation split.
  while (split > 0 && split < size && is_utf8_continuation(all.text[split])) --split;
  if (validation_fraction > 0.0) {
    KILN_CHECK(split < size, "corpus: validation_fraction ", validation_fraction, " of ", size,
               " bytes leaves an empty validation split; expected at least one character");
    KILN_CHECK(split > 0, "corpus: validation_fraction ", validation_fraction, " of ", size,
               " bytes leaves an empty train split; expected at least one character");
  }

  Corpus corpus;
  corpus.validation_.text = all.text.substr(split);
  for (size_t i = 0; i < all.spans.size(); ++i) {
    const Span& span = all.spans[i];
    const uint64_t end = i + 1 < all.spans.size() ? all.spans[i + 1].begin : size;
    if (span.begin < split) corpus.train_.spans.push_back(span);
    if (end > split) {
      const uint64_t begin = std::max(span.begin, split);
      corpus.validation_.spans.push_back(
          {span.source, begin - split, span.source_offset + (begin - span.begin)});
    }
  }
  all.text.resize(split);
  corpus.train_.text = std::move(all.text);
  return corpus;
}

const std::string& Corpus::text(Split split) const {
  return split == Split::kTrain ? train_.text : validation_.text;
}

std::vector<CorpusPiece> Corpus::pieces(Split split) const {
  const Part& part = split == Split::kTrain ? train_ : validation_;
  const std::string_view text = part.text;
  std::vector<CorpusPiece> pieces;
  for (size_t i = 0; i < part.spans.size(); ++i) {
    const Span& span = part.spans[i];
    const uint64_t end = i + 1 < part.spans.size() ? part.spans[i + 1].begin : text.size();
    pieces.push_back({text.substr(span.begin, end - span.begin), span.source, span.source_offset});
  }
  return pieces;
}

uint64_t Corpus::fingerprint() const {
  // The train length goes in so that moving the split point changes the fingerprint.
  uint64_t hash = fnv1a_64(train_.text);
  const uint64_t train_size = train_.text.size();
  for (int byte = 0; byte < 8; ++byte) {
    const char value = static_cast<char>(train_size >> (8 * byte));
    hash = fnv1a_64(std::string_view(&value, 1), hash);
  }
  return fnv1a_64(validation_.text, hash);
}

}  // namespace kiln
