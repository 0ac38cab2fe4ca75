// Documents of sentences for BERT pretraining, read the way google-research/bert's
// create_pretraining_data.py reads its input: one sentence a line, a blank line between documents.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// The sentences of one document, in order, each stripped of surrounding whitespace.
using Document = std::vector<std::string>;
// Token ids by document, then sentence: documents[d][s] is sentence s of document d.
using TokenizedDocuments = std::vector<std::vector<std::vector<int32_t>>>;
// Maps the text of one sentence to token ids (e.g. a WordPiece tokenizer, without [CLS]/[SEP]).
using SentenceTokenizer = std::function<std::vector<int32_t>(std::string_view)>;

// Splits `text` into documents at blank (or all-whitespace) lines; runs of blank lines count as
// one break and no document is empty. Handles "\n" and "\r\n" line ends.
std::vector<Document> split_documents(std::string_view text);

// Documents for training and the held-out documents for evaluation.
struct DocumentSplit {
  std::vector<Document> train;
  std::vector<Document> held_out;
};

// Holds out the last round(n * fraction) documents, but at least one and never all of them when
// fraction > 0 (so n >= 2 is then required); fraction must lie in [0, 1).
DocumentSplit split_held_out(std::vector<Document> documents, double fraction);

// Tokenizes every sentence; as in the original, sentences with no tokens and then documents with
// no sentences are dropped.
TokenizedDocuments tokenize_documents(const std::vector<Document>& documents,
                                      const SentenceTokenizer& tokenize);

}  // namespace kiln
