// Test helpers for the BERT data tests: a toy corpus whose every token id occurs once (so an id
// tells its document and position), its WordPiece-like tokenizer, options and error capture.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "data/bert_documents.h"
#include "data/bert_draws.h"
#include "data/bert_examples.h"
#include "tests/error_of.h"

namespace kiln::bert_test {

inline constexpr int32_t kPad = 0, kCls = 1, kSep = 2, kMask = 3, kFirstWord = 4;

// A corpus whose every token id occurs once, so an id tells where in the text it came from.
struct ToyCorpus {
  TokenizedDocuments documents;
  BertSpecialTokens special;
  std::vector<int> document_of;  // by id: the document it is in
  std::vector<int> position_of;  // by id: its index among the document's tokens
  std::vector<bool> starts_sentence;
  std::vector<bool> ends_sentence;
};

// Token "17" is id 17 and "##18" is id 18, a continuation piece: a stand-in for WordPiece.
inline std::vector<int32_t> toy_tokenize(std::string_view sentence) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at < sentence.size()) {
    size_t end = sentence.find(' ', at);
    if (end == std::string_view::npos) end = sentence.size();
    std::string_view word = sentence.substr(at, end - at);
    if (word.starts_with("##")) word.remove_prefix(2);
    if (!word.empty()) ids.push_back(static_cast<int32_t>(std::stoi(std::string(word))));
    at = end + 1;
  }
  return ids;
}

// Documents of 1-12 sentences of 1-20 tokens, words of 1-3 pieces, written out as text and read
// back through split_documents and tokenize_documents.
inline ToyCorpus make_toy_corpus(int num_documents, uint64_t seed) {
  Draws draws(seed);
  std::string text;
  int32_t next = kFirstWord;
  std::vector<bool> continuation(kFirstWord, false);
  for (int d = 0; d < num_documents; ++d) {
    const int64_t sentences = draws.randint(1, 12);
    for (int64_t s = 0; s < sentences; ++s) {
      const int64_t length = draws.randint(1, 20);
      int64_t pieces_left = 0;
      for (int64_t t = 0; t < length; ++t) {
        const bool piece = pieces_left > 0;
        pieces_left = piece ? pieces_left - 1 : draws.randint(0, 2);
        if (t > 0) text += ' ';
        if (piece) text += "##";
        text += std::to_string(next++);
        continuation.push_back(piece);
      }
      text += "\n";
    }
    text += "\n";
  }
  ToyCorpus corpus;
  corpus.documents = tokenize_documents(split_documents(text), toy_tokenize);
  corpus.special = {kPad, kCls, kSep, kMask, next, continuation};
  corpus.document_of.assign(next, -1);
  corpus.position_of.assign(next, -1);
  corpus.starts_sentence.assign(next, false);
  corpus.ends_sentence.assign(next, false);
  for (size_t d = 0; d < corpus.documents.size(); ++d) {
    int position = 0;
    for (const auto& sentence : corpus.documents[d]) {
      corpus.starts_sentence[sentence.front()] = true;
      corpus.ends_sentence[sentence.back()] = true;
      for (const int32_t id : sentence) {
        corpus.document_of[id] = static_cast<int>(d);
        corpus.position_of[id] = position++;
      }
    }
  }
  return corpus;
}

inline BertExampleOptions toy_options(int max_seq_len = 32) {
  BertExampleOptions options;
  options.max_seq_len = max_seq_len;
  options.short_seq_prob = 0.2;
  options.dupe_factor = 3;
  options.seed = 7;
  return options;
}

// True when the ids are consecutive tokens of one document.
inline bool is_contiguous(const ToyCorpus& corpus, std::span<const int32_t> ids) {
  for (size_t t = 1; t < ids.size(); ++t) {
    if (corpus.document_of[ids[t]] != corpus.document_of[ids[0]] ||
        corpus.position_of[ids[t]] != corpus.position_of[ids[t - 1]] + 1) {
      return false;
    }
  }
  return true;
}

}  // namespace kiln::bert_test
