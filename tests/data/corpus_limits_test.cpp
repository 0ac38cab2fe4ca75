// Tests for the corpus reader's refusals of inputs that never end or do not fit in memory.
#include <gtest/gtest.h>

#include <string>

#include "data/corpus.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

TEST(CorpusLimitsTest, DevZeroIsRefusedBeforeReading) {
  // Used to read until std::bad_alloc.
  EXPECT_EQ(error_of([] { read_text_file("/dev/zero"); }),
            "corpus: '/dev/zero': expected a regular file or a pipe, got a character device");
  EXPECT_EQ(error_of([] { Corpus::from_files({"/dev/zero"}, 0.1); }),
            "corpus: '/dev/zero': expected a regular file or a pipe, got a character device");
}

TEST(CorpusLimitsTest, DevUrandomIsRefused) {
  EXPECT_EQ(error_of([] { Corpus::from_files({"/dev/urandom"}, {"/dev/urandom"}); }),
            "corpus: '/dev/urandom': expected a regular file or a pipe, got a character device");
}

}  // namespace
}  // namespace kiln
