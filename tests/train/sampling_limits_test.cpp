// Tests for the limits of the sampling options: `kiln sample --max-new-tokens 1000000000` and
// `--temperature inf` are refused before any token is generated.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/error_of.h"
#include "train/sampling.h"

namespace kiln {
namespace {

TEST(SamplingLimitsTest, BillionNewTokensIsRefused) {
  SamplingOptions options;
  options.max_new_tokens = 1000000000;
  EXPECT_EQ(error_of([&] { check_sampling_options(options); }),
            "sampling: expected max_new_tokens in [0, 1048576], got 1000000000");
  options.max_new_tokens = kMaxNewTokens;
  EXPECT_NO_THROW(check_sampling_options(options));
}

TEST(SamplingLimitsTest, InfiniteTemperatureIsRefused) {
  SamplingOptions options;
  options.temperature = std::numeric_limits<float>::infinity();
  EXPECT_EQ(error_of([&] { check_sampling_options(options); }),
            "sampling: expected a finite temperature >= 0, got inf");
  options.temperature = std::nanf("");
  EXPECT_EQ(error_of([&] { check_sampling_options(options); }),
            "sampling: expected a finite temperature >= 0, got nan");
}

TEST(SamplingLimitsTest, InfiniteRepetitionPenaltyIsRefused) {
  SamplingOptions options;
  options.repetition_penalty = std::numeric_limits<float>::infinity();
  EXPECT_EQ(error_of([&] { check_sampling_options(options); }),
            "sampling: expected a finite repetition_penalty > 0, got inf");
}

}  // namespace
}  // namespace kiln
