// split_documents, split_held_out and tokenize_documents: blank-line documents, held-out
// documents, dropped empty sentences, and the real KJV (one document per chapter).
#include "data/bert_documents.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "data/corpus.h"

namespace kiln {
namespace {

std::filesystem::path repo_root() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

TEST(BertDocumentsTest, BlankLinesSeparateDocuments) {
  const std::string text =
      "\n\n  first one.  \nfirst two.\r\n\n \t \n\nsecond one.\n\tsecond two.\nsecond three.\n\n"
      "third one.";
  const std::vector<Document> documents = split_documents(text);
  ASSERT_EQ(documents.size(), 3u);
  EXPECT_EQ(documents[0], (Document{"first one.", "first two."}));
  EXPECT_EQ(documents[1], (Document{"second one.", "second two.", "second three."}));
  EXPECT_EQ(documents[2], (Document{"third one."}));
}

TEST(BertDocumentsTest, EmptyOrBlankTextHasNoDocuments) {
  EXPECT_TRUE(split_documents("").empty());
  EXPECT_TRUE(split_documents("\n \n\r\n\t\n").empty());
  EXPECT_EQ(split_documents("one line").size(), 1u);
}

TEST(BertDocumentsTest, HeldOutSplitTakesTheLastDocuments) {
  std::vector<Document> documents;
  for (int d = 0; d < 20; ++d) documents.push_back({"doc " + std::to_string(d)});
  const DocumentSplit split = split_held_out(documents, 0.1);
  ASSERT_EQ(split.train.size(), 18u);
  ASSERT_EQ(split.held_out.size(), 2u);
  EXPECT_EQ(split.train.front(), Document{"doc 0"});
  EXPECT_EQ(split.train.back(), Document{"doc 17"});
  EXPECT_EQ(split.held_out[0], Document{"doc 18"});
  EXPECT_EQ(split.held_out[1], Document{"doc 19"});

  // A tiny fraction still holds out one document, a large one still leaves one to train on.
  EXPECT_EQ(split_held_out(documents, 0.001).held_out.size(), 1u);
  EXPECT_EQ(split_held_out(documents, 0.999).train.size(), 1u);
  EXPECT_TRUE(split_held_out(documents, 0.0).held_out.empty());
  EXPECT_EQ(split_held_out(documents, 0.0).train.size(), 20u);
}

TEST(BertDocumentsTest, HeldOutSplitErrors) {
  EXPECT_THROW(split_held_out({{"only"}}, 0.1), Error);
  EXPECT_THROW(split_held_out({{"a"}, {"b"}}, 1.0), Error);
  EXPECT_THROW(split_held_out({{"a"}, {"b"}}, -0.1), Error);
  std::string message;
  try {
    split_held_out({{"a"}, {"b"}}, 1.5);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("split_held_out: expected a held-out fraction in [0, 1), got 1.5"),
            std::string::npos)
      << message;
}

TEST(BertDocumentsTest, TokenizingDropsEmptySentencesAndDocuments) {
  // Sentences of '-' tokenize to nothing, like punctuation a tokenizer might discard.
  const std::vector<Document> documents = {{"ab", "--", "c"}, {"--"}, {"d"}};
  const SentenceTokenizer tokenize = [](std::string_view sentence) {
    std::vector<int32_t> ids;
    for (const char c : sentence) {
      if (c != '-') ids.push_back(c - 'a');
    }
    return ids;
  };
  const TokenizedDocuments tokenized = tokenize_documents(documents, tokenize);
  ASSERT_EQ(tokenized.size(), 2u);
  EXPECT_EQ(tokenized[0], (std::vector<std::vector<int32_t>>{{0, 1}, {2}}));
  EXPECT_EQ(tokenized[1], (std::vector<std::vector<int32_t>>{{3}}));
}

TEST(BertDocumentsTest, KjvHasOneDocumentPerChapter) {
  const auto path = repo_root() / "corpora" / "kjv.txt";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
  const std::vector<Document> documents = split_documents(read_text_file(path.string()));
  ASSERT_EQ(documents.size(), 1189u);  // 929 Old Testament and 260 New Testament chapters
  EXPECT_EQ(documents.front().front(), "In the beginning God created the heaven and the earth.");
  size_t verses = 0;
  for (const Document& chapter : documents) verses += chapter.size();
  EXPECT_EQ(verses, 31102u);

  const DocumentSplit split = split_held_out(documents, 0.1);
  EXPECT_EQ(split.held_out.size(), 119u);
  EXPECT_EQ(split.train.size(), 1070u);
  // Revelation 22, the last chapter, has 21 verses.
  EXPECT_EQ(split.held_out.back().size(), 21u);
}

}  // namespace
}  // namespace kiln
