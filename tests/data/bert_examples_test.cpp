// BERT pretraining instances: [CLS] A [SEP] B [SEP] layout and lengths, real and random next
// sentences, the NSP label balance, determinism, errors, and instance creation on the real KJV.
#include "data/bert_examples.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "data/bert_batches.h"
#include "data/bert_documents.h"
#include "data/bert_masking.h"
#include "data/corpus.h"
#include "tests/data/bert_toy_corpus.h"

namespace kiln {
namespace {

using namespace bert_test;

TEST(BertExamplesTest, InstancesAreClsASepBSep) {
  const ToyCorpus corpus = make_toy_corpus(60, 1);
  ASSERT_EQ(corpus.documents.size(), 60u);
  const BertInstances instances =
      create_bert_instances(corpus.documents, corpus.special, toy_options());
  ASSERT_GT(instances.size(), 300u);
  for (size_t k = 0; k < instances.size(); ++k) {
    const BertInstanceView instance = instances[k];
    ASSERT_EQ(instance.tokens.front(), kCls) << k;
    ASSERT_EQ(std::count(instance.tokens.begin(), instance.tokens.end(), kSep), 2) << k;
    ASSERT_EQ(instance.tokens[instance.b_start - 1], kSep) << k;
    ASSERT_EQ(instance.tokens.back(), kSep) << k;
    ASSERT_FALSE(instance.a().empty()) << k;
    ASSERT_FALSE(instance.b().empty()) << k;
    ASSERT_EQ(instance.a().size() + instance.b().size() + 3, instance.tokens.size()) << k;
  }
}

TEST(BertExamplesTest, TargetLengthNeverExceeded) {
  const ToyCorpus corpus = make_toy_corpus(60, 2);
  for (const int max_seq_len : {5, 6, 9, 16, 32, 128}) {
    const BertInstances instances =
        create_bert_instances(corpus.documents, corpus.special, toy_options(max_seq_len));
    int full = 0;
    for (size_t k = 0; k < instances.size(); ++k) {
      ASSERT_LE(instances[k].size(), max_seq_len) << k;
      ASSERT_FALSE(instances[k].a().empty()) << k;
      ASSERT_FALSE(instances[k].b().empty()) << k;
      full += instances[k].size() == max_seq_len;
    }
    // Chunks fill up to the target, so most instances of a short max_seq_len are full.
    if (max_seq_len <= 16) {
      EXPECT_GT(full, static_cast<int>(instances.size()) / 2) << max_seq_len;
    }
  }
}

TEST(BertExamplesTest, ActualNextContinuesAInTheSameDocument) {
  const ToyCorpus corpus = make_toy_corpus(60, 3);
  const BertExampleOptions options = toy_options();
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  int checked = 0, untruncated = 0;
  for (size_t k = 0; k < instances.size(); ++k) {
    const BertInstanceView instance = instances[k];
    if (instance.is_random_next) continue;
    const auto a = instance.a();
    const auto b = instance.b();
    ASSERT_TRUE(is_contiguous(corpus, a)) << k;
    ASSERT_TRUE(is_contiguous(corpus, b)) << k;
    ASSERT_EQ(corpus.document_of[a.front()], corpus.document_of[b.front()]) << k;
    ASSERT_GT(corpus.position_of[b.front()], corpus.position_of[a.back()]) << k;
    ++checked;
    // Truncation stops at exactly max_seq_len, so a shorter instance is whole sentences with B
    // starting right where A ends.
    if (instance.size() < options.max_seq_len) {
      ++untruncated;
      EXPECT_EQ(corpus.position_of[b.front()], corpus.position_of[a.back()] + 1) << k;
      EXPECT_TRUE(corpus.starts_sentence[a.front()]) << k;
      EXPECT_TRUE(corpus.ends_sentence[a.back()]) << k;
      EXPECT_TRUE(corpus.ends_sentence[b.back()]) << k;
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_GT(untruncated, 10);
}

TEST(BertExamplesTest, RandomNextTakesBFromAnotherDocument) {
  const ToyCorpus corpus = make_toy_corpus(60, 4);
  const BertExampleOptions options = toy_options();
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  int checked = 0;
  for (size_t k = 0; k < instances.size(); ++k) {
    const BertInstanceView instance = instances[k];
    if (!instance.is_random_next) continue;
    ASSERT_TRUE(is_contiguous(corpus, instance.a())) << k;
    ASSERT_TRUE(is_contiguous(corpus, instance.b())) << k;
    ASSERT_NE(corpus.document_of[instance.a().front()], corpus.document_of[instance.b().front()])
        << k;
    if (instance.size() < options.max_seq_len) {
      EXPECT_TRUE(corpus.starts_sentence[instance.b().front()]) << k;
    }
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST(BertExamplesTest, MoreRandomNextDocumentsOnlySupplyRandomNextSegments) {
  const ToyCorpus corpus = make_toy_corpus(200, 8);
  const TokenizedDocuments own(corpus.documents.begin(), corpus.documents.begin() + 40);
  const TokenizedDocuments more(corpus.documents.begin() + 40, corpus.documents.end());
  const BertExampleOptions options = toy_options();
  const BertInstances instances = create_bert_instances(own, corpus.special, options, more);
  int random_next = 0, from_more = 0;
  for (size_t k = 0; k < instances.size(); ++k) {
    const BertInstanceView instance = instances[k];
    const int a_document = corpus.document_of[instance.a().front()];
    const int b_document = corpus.document_of[instance.b().front()];
    ASSERT_LT(a_document, 40) << k;
    ASSERT_TRUE(is_contiguous(corpus, instance.b())) << k;
    if (!instance.is_random_next) {
      ASSERT_EQ(a_document, b_document) << k;
      continue;
    }
    ASSERT_NE(a_document, b_document) << k;
    ++random_next;
    from_more += b_document >= 40;
  }
  // The other document is uniform over 199: 160 of them are in `more`.
  ASSERT_GT(random_next, 150);
  const double share = static_cast<double>(from_more) / random_next;
  EXPECT_GT(share, 0.70) << random_next;
  EXPECT_LT(share, 0.90) << random_next;
}

TEST(BertExamplesTest, NextSentenceLabelsAreRoughlyHalfRandom) {
  const ToyCorpus corpus = make_toy_corpus(200, 5);
  BertExampleOptions options = toy_options(128);
  options.dupe_factor = 5;
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  int random_next = 0;
  for (size_t k = 0; k < instances.size(); ++k) random_next += instances[k].is_random_next;
  const double fraction = static_cast<double>(random_next) / static_cast<double>(instances.size());
  // Above one half: chunks of a single sentence (short documents) are always random next.
  EXPECT_GT(fraction, 0.45) << instances.size() << " instances";
  EXPECT_LT(fraction, 0.65) << instances.size() << " instances";
}

TEST(BertExamplesTest, CreationIsAPureFunctionOfTheSeed) {
  const ToyCorpus corpus = make_toy_corpus(40, 6);
  BertExampleOptions options = toy_options();
  options.dupe_factor = 1;
  const BertInstances first = create_bert_instances(corpus.documents, corpus.special, options);
  const BertInstances again = create_bert_instances(corpus.documents, corpus.special, options);
  ASSERT_EQ(first.size(), again.size());
  for (size_t k = 0; k < first.size(); ++k) {
    ASSERT_TRUE(std::ranges::equal(first[k].tokens, again[k].tokens)) << k;
    ASSERT_EQ(first[k].b_start, again[k].b_start) << k;
    ASSERT_EQ(first[k].is_random_next, again[k].is_random_next) << k;
  }
  options.dupe_factor = 2;  // the first pass is the same, the second draws afresh
  const BertInstances twice = create_bert_instances(corpus.documents, corpus.special, options);
  ASSERT_GT(twice.size(), first.size());
  int differing = 0;
  for (size_t k = 0; k < first.size(); ++k) {
    ASSERT_TRUE(std::ranges::equal(first[k].tokens, twice[k].tokens)) << k;
    differing += !std::ranges::equal(first[k].tokens, twice[first.size() + k].tokens);
  }
  EXPECT_GT(differing, static_cast<int>(first.size()) / 2);
}

TEST(BertExamplesTest, ErrorsNameTheProblem) {
  const ToyCorpus corpus = make_toy_corpus(5, 15);
  BertExampleOptions options = toy_options();
  options.max_seq_len = 4;
  EXPECT_NE(error_of([&] {
              create_bert_instances(corpus.documents, corpus.special, options);
            }).find("expected max_seq_len >= 5, got 4"),
            std::string::npos);
  options = toy_options();
  options.whole_word_masking = true;
  BertSpecialTokens no_pieces = corpus.special;
  no_pieces.is_continuation.clear();
  EXPECT_NE(error_of([&] {
              BertMasker(no_pieces, options);
            }).find("whole-word masking expected is_continuation for every id"),
            std::string::npos);
  BertSpecialTokens small = corpus.special;
  small.vocab_size = 10;
  EXPECT_NE(error_of([&] {
              create_bert_instances(corpus.documents, small, toy_options());
            }).find("in [0, vocab_size = 10)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              BertBatches(BertInstances{}, corpus.special, toy_options(), 4, 1);
            }).find("split 'train' has no instances"),
            std::string::npos);
  EXPECT_THROW(create_bert_instances({}, corpus.special, toy_options()), Error);
}

// Lower-cased words and single punctuation characters, numbered as first seen.
struct ToyWordTokenizer {
  std::unordered_map<std::string, int32_t> vocab;

  std::vector<int32_t> operator()(std::string_view sentence) {
    std::vector<int32_t> ids;
    std::string word;
    const auto flush = [&] {
      if (word.empty()) return;
      ids.push_back(
          vocab.try_emplace(word, kFirstWord + static_cast<int32_t>(vocab.size())).first->second);
      word.clear();
    };
    for (const char c : sentence) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else {
        flush();
        if (!std::isspace(static_cast<unsigned char>(c))) {
          word = c;
          flush();
        }
      }
    }
    flush();
    return ids;
  }
};

TEST(BertExamplesTest, KjvChaptersGiveFullBalancedInstances) {
  const auto path = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                    "corpora" / "kjv.txt";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
  ToyWordTokenizer tokenizer;
  const std::vector<Document> documents = split_documents(read_text_file(path.string()));
  ASSERT_EQ(documents.size(), 1189u);
  const TokenizedDocuments tokenized =
      tokenize_documents(documents, [&](std::string_view sentence) { return tokenizer(sentence); });
  BertSpecialTokens special{
      kPad, kCls, kSep, kMask, kFirstWord + static_cast<int32_t>(tokenizer.vocab.size()), {}};
  BertExampleOptions options;
  options.seed = 12345;
  const BertInstances instances = create_bert_instances(tokenized, special, options);

  int random_next = 0, full = 0;
  for (size_t k = 0; k < instances.size(); ++k) {
    ASSERT_LE(instances[k].size(), options.max_seq_len) << k;
    random_next += instances[k].is_random_next;
    full += instances[k].size() == options.max_seq_len;
  }
  std::cout << "[ KJV      ] " << instances.size() << " instances, " << instances.token_count()
            << " tokens, " << random_next << " random next, " << full << " full\n";
  // About 1.2M tokens in chunks of up to 125: some 10,000 instances, most of them full.
  EXPECT_GT(instances.size(), 5000u);
  EXPECT_GT(full, static_cast<int>(instances.size()) / 2);
  // A little above one half: a chunk of one long verse can only take a random next segment.
  const double share = static_cast<double>(random_next) / static_cast<double>(instances.size());
  EXPECT_GT(share, 0.5);
  EXPECT_LT(share, 0.6);
}

}  // namespace
}  // namespace kiln
