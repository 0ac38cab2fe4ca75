// metrics.jsonl: lines written by the JSON writer (keys escaped) and read back by the JSON
// parser, so that any metric name survives a resume.
#include "train/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/json.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

TEST(MetricsTest, LinesEscapeKeysAndReadBack) {
  const MetricEvent event{"eval", 12, {{"val_loss", 2.5}, {"count_\"a\\b\"\n", 0.1}, {"nan", NAN}}};
  const std::string line = to_json(event);
  EXPECT_EQ(line, R"({"kind":"eval","step":12,"val_loss":2.5,"count_\"a\\b\"\n":0.1,"nan":null})");
  EXPECT_EQ(json::parse(line, "line").at("count_\"a\\b\"\n").as_number(), 0.1);
  MetricEvent back;
  ASSERT_TRUE(parse_metric_line(line, back));
  EXPECT_EQ(back.kind, "eval");
  EXPECT_EQ(back.step, 12);
  ASSERT_EQ(back.values.size(), 3u);
  EXPECT_EQ(back.values[1].first, "count_\"a\\b\"\n");
  EXPECT_EQ(back.values[1].second, 0.1);
  EXPECT_TRUE(std::isnan(back.values[2].second));
}

TEST(MetricsTest, RefusesLinesItDidNotWrite) {
  MetricEvent e;
  EXPECT_FALSE(parse_metric_line(R"({"kind":"train","step":3,"loss":2.)", e));  // cut by a crash
  EXPECT_FALSE(parse_metric_line(R"({"step":3,"loss":2})", e));
  EXPECT_FALSE(parse_metric_line(R"({"kind":"train","step":1.5})", e));
  EXPECT_FALSE(parse_metric_line(R"({"kind":"train","step":3,"loss":"x"})", e));
  EXPECT_FALSE(parse_metric_line("[1]", e));
}

class MetricsLogTest : public ScratchDirTest {};

TEST_F(MetricsLogTest, ResumeKeepsEarlierStepsAndDropsATornLine) {
  {
    MetricsLog log(dir_.string(), 0);
    for (int64_t step : {2, 4, 6}) log.add({"train", step, {{"odd \"key\"", double(step)}}});
    log.write_plot();
  }
  EXPECT_TRUE(fs::exists(dir_ / "loss.svg"));
  EXPECT_FALSE(fs::exists(dir_ / "loss.svg.tmp"));
  std::ofstream(dir_ / "metrics.jsonl", std::ios::app) << R"({"kind":"train","st)";
  MetricsLog resumed(dir_.string(), 4);
  resumed.add({"eval", 5, {{"val_loss", 1.25}}});
  std::ifstream in(dir_ / "metrics.jsonl");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text,
            "{\"kind\":\"train\",\"step\":2,\"odd \\\"key\\\"\":2.0}\n"
            "{\"kind\":\"train\",\"step\":4,\"odd \\\"key\\\"\":4.0}\n"
            "{\"kind\":\"eval\",\"step\":5,\"val_loss\":1.25}\n");
}

}  // namespace
}  // namespace kiln
