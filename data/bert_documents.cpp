// split_documents, split_held_out and tokenize_documents: corpus text to token ids by document.
#include "data/bert_documents.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

#include "base/error.h"

namespace kiln {
namespace {

// Python's str.strip() for ASCII whitespace, which is all a corpus line ends or starts with here.
std::string_view strip(std::string_view line) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t first = line.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const size_t last = line.find_last_not_of(kSpace);
  return line.substr(first, last - first + 1);
}

}  // namespace

std::vector<Document> split_documents(std::string_view text) {
  std::vector<Document> documents(1);
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view sentence = strip(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!sentence.empty()) {
      documents.back().emplace_back(sentence);
    } else if (!documents.back().empty()) {
      documents.emplace_back();  // a blank line after text starts the next document
    }
  }
  if (documents.back().empty()) documents.pop_back();
  return documents;
}

DocumentSplit split_held_out(std::vector<Document> documents, double fraction) {
  KILN_CHECK(fraction >= 0 && fraction < 1,
             "split_held_out: expected a held-out fraction in [0, 1), got ", fraction);
  DocumentSplit split;
  if (fraction == 0) {
    split.train = std::move(documents);
    return split;
  }
  const auto n = static_cast<int64_t>(documents.size());
  KILN_CHECK(n >= 2, "split_held_out: expected at least 2 documents to hold out a fraction ",
             fraction, ", got ", n);
  const auto held = std::clamp<int64_t>(std::llround(static_cast<double>(n) * fraction), 1, n - 1);
  split.held_out.assign(std::make_move_iterator(documents.end() - held),
                        std::make_move_iterator(documents.end()));
  documents.resize(n - held);
  split.train = std::move(documents);
  return split;
}

TokenizedDocuments tokenize_documents(const std::vector<Document>& documents,
                                      const SentenceTokenizer& tokenize) {
  TokenizedDocuments out;
  out.reserve(documents.size());
  for (const Document& document : documents) {
    std::vector<std::vector<int32_t>> sentences;
    sentences.reserve(document.size());
    for (const std::string& sentence : document) {
      std::vector<int32_t> ids = tokenize(sentence);
      // Empty sentences would make empty A or B segments, which instance creation cannot use.
      if (!ids.empty()) sentences.push_back(std::move(ids));
    }
    if (!sentences.empty()) out.push_back(std::move(sentences));
  }
  return out;
}

}  // namespace kiln
