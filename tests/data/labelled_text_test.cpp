// Labelled text: JSON lines and folder layouts, errors naming file:line, and the held-out split
// (deterministic, disjoint, independent of the order of the examples).
#include "data/labelled_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

const std::vector<std::string> kLabels = {"food", "law", "love"};

using LabelledTextTest = ScratchDirTest;

TEST_F(LabelledTextTest, JsonLinesGiveTextAndLabelIndex) {
  std::string path = write("a.jsonl",
                           "{\"text\": \"Eat \\\"well\\\".\\nTwice.\", \"label\": \"food\"}\n"
                           "\n"
                           "{\"label\": \"love\", \"text\": \"All you need\", \"id\": 7}\r\n"
                           "{\"text\": \"Objection!\", \"label\": \"law\"}");
  std::vector<LabelledText> got = read_labelled_jsonl(path, kLabels);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, "Eat \"well\".\nTwice.");
  EXPECT_EQ(got[0].label, 0);
  EXPECT_EQ(got[1].text, "All you need");
  EXPECT_EQ(got[1].label, 2);
  EXPECT_EQ(got[1].source, path + ":3");
  EXPECT_EQ(got[2].label, 1);
}

TEST_F(LabelledTextTest, JsonLinesErrorsNameFileAndLine) {
  std::string unknown = write("u.jsonl",
                              "{\"text\": \"a\", \"label\": \"food\"}\n"
                              "{\"text\": \"b\", \"label\": \"sports\"}\n");
  EXPECT_EQ(error_of([&] { read_labelled_jsonl(unknown, kLabels); }),
            unknown +
                ":2: label: expected one of data.labels (\"food\", \"law\", \"love\"), got "
                "\"sports\"");
  std::string broken = write("b.jsonl", "{\"text\": \"a\", \"label\": \"food\"}\n\n{\"text\": \n");
  EXPECT_EQ(error_of([&] { read_labelled_jsonl(broken, kLabels); }).rfind(broken + ":3: ", 0), 0u);
  std::string no_text = write("t.jsonl", "{\"label\": \"food\"}\n");
  EXPECT_EQ(error_of([&] { read_labelled_jsonl(no_text, kLabels); }),
            no_text + ":1: text: expected a string, got no such key");
  std::string number = write("n.jsonl", "{\"text\": \"a\", \"label\": 1}\n");
  EXPECT_EQ(error_of([&] { read_labelled_jsonl(number, kLabels); }),
            number + ":1: label: expected a string, got the number 1");
  std::string list = write("l.jsonl", "[1, 2]\n");
  EXPECT_EQ(error_of([&] { read_labelled_jsonl(list, kLabels); }),
            list + ":1: expected an object {\"text\": ..., \"label\": ...}, got an array");
}

TEST_F(LabelledTextTest, FoldersGiveOneExamplePerFileInLabelThenNameOrder) {
  write("train/love/b.txt", "second love");
  write("train/love/a.txt", "first love");
  write("train/food/x.txt", "soup");
  std::vector<LabelledText> got =
      read_labelled((std::vector<std::string>{(dir_ / "train").string()}), "folders", kLabels);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, "soup");
  EXPECT_EQ(got[0].label, 0);
  EXPECT_EQ(got[1].text, "first love");
  EXPECT_EQ(got[1].label, 2);
  EXPECT_EQ(got[1].source, (dir_ / "train" / "love" / "a.txt").string());
  EXPECT_EQ(got[2].text, "second love");

  write("train/sports/y.txt", "goal");
  EXPECT_EQ(error_of([&] { read_labelled_folders((dir_ / "train").string(), kLabels); }),
            (dir_ / "train" / "sports").string() +
                ": expected a sub-folder named after one of data.labels (\"food\", \"law\", "
                "\"love\"), got \"sports\"");
  EXPECT_NE(error_of([&] {
              read_labelled_folders((dir_ / "none").string(), kLabels);
            }).find("no such folder"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              read_labelled({(dir_ / "train").string()}, "text", kLabels);
            }).find("data.format"),
            std::string::npos);
}

TEST_F(LabelledTextTest, HeldOutSplitIsDeterministicDisjointAndOrderFree) {
  std::vector<LabelledText> all;
  for (int i = 0; i < 1000; ++i)
    all.push_back({"example number " + std::to_string(i), i % 3, "x:" + std::to_string(i)});
  auto texts = [](const std::vector<LabelledText>& v) {
    std::set<std::string> s;
    for (const LabelledText& e : v) s.insert(e.text);
    return s;
  };
  LabelledSplit a = split_labelled(all, 0.1, 42);
  LabelledSplit b = split_labelled(all, 0.1, 42);
  EXPECT_EQ(texts(a.held_out), texts(b.held_out));
  EXPECT_EQ(a.train.size() + a.held_out.size(), all.size());
  EXPECT_GT(a.held_out.size(), 60u);
  EXPECT_LT(a.held_out.size(), 140u);
  std::set<std::string> train = texts(a.train), held_out = texts(a.held_out);
  for (const std::string& t : held_out) EXPECT_FALSE(train.count(t)) << t;
  // Train keeps the input order.
  EXPECT_TRUE(std::is_sorted(a.train.begin(), a.train.end(), [](auto& x, auto& y) {
    return std::stoi(x.source.substr(2)) < std::stoi(y.source.substr(2));
  }));

  // The same examples in another order are split the same way; another seed splits otherwise.
  std::vector<LabelledText> reversed(all.rbegin(), all.rend());
  EXPECT_EQ(texts(split_labelled(reversed, 0.1, 42).held_out), held_out);
  EXPECT_NE(texts(split_labelled(all, 0.1, 43).held_out), held_out);
  // A duplicate text never straddles the split.
  std::vector<LabelledText> twice = all;
  twice.insert(twice.end(), all.begin(), all.end());
  EXPECT_EQ(split_labelled(twice, 0.1, 42).held_out.size(), 2 * a.held_out.size());
}

}  // namespace
}  // namespace kiln
