// Reading labelled examples (JSON lines, folders) and the fixed held-out split.
#include "data/labelled_text.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "base/rng.h"
#include "data/corpus.h"
#include "io/json.h"

namespace kiln {
namespace fs = std::filesystem;
namespace {

// `"a", "b", "c"`, for "expected one of ..." messages.
std::string label_list(const std::vector<std::string>& labels) {
  std::string out;
  for (const std::string& l : labels) out += (out.empty() ? "" : ", ") + json::quote(l);
  return out;
}

// The index of `name` in `labels`, or -1.
int32_t label_index(const std::vector<std::string>& labels, const std::string& name) {
  auto it = std::find(labels.begin(), labels.end(), name);
  return it == labels.end() ? -1 : static_cast<int32_t>(it - labels.begin());
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

std::vector<LabelledText> read_labelled_jsonl(const std::string& path,
                                              const std::vector<std::string>& labels) {
  const std::string text = read_text_file(path);
  std::vector<LabelledText> out;
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (blank(line)) continue;
    const std::string where = path + ":" + std::to_string(line_number);
    json::Value v = json::parse(line, where);
    KILN_CHECK(v.kind() == json::Value::Kind::kObject, where,
               ": expected an object {\"text\": ..., \"label\": ...}, got ", v.describe());
    const json::Value* t = v.find("text");
    const json::Value* l = v.find("label");
    KILN_CHECK(t != nullptr && t->kind() == json::Value::Kind::kString, where,
               ": text: expected a string, got ", t ? t->describe() : std::string("no such key"));
    KILN_CHECK(l != nullptr && l->kind() == json::Value::Kind::kString, where,
               ": label: expected a string, got ", l ? l->describe() : std::string("no such key"));
    int32_t label = label_index(labels, l->as_string());
    KILN_CHECK(label >= 0, where, ": label: expected one of data.labels (", label_list(labels),
               "), got ", json::quote(l->as_string()));
    out.push_back({t->as_string(), label, where});
  }
  return out;
}

std::vector<LabelledText> read_labelled_folders(const std::string& dir,
                                                const std::vector<std::string>& labels) {
  KILN_CHECK(fs::is_directory(dir), dir,
             ": expected a folder with one sub-folder per label, got no such folder");
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    KILN_CHECK(label_index(labels, name) >= 0, entry.path().string(),
               ": expected a sub-folder named after one of data.labels (", label_list(labels),
               "), got ", json::quote(name));
    folders.push_back(name);
  }
  std::vector<LabelledText> out;
  for (size_t label = 0; label < labels.size(); ++label) {
    const fs::path folder = fs::path(dir) / labels[label];
    if (!fs::is_directory(folder)) continue;
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());  // directory order is not stable across machines
    for (const std::string& file : files)
      out.push_back({read_text_file(file), static_cast<int32_t>(label), file});
  }
  return out;
}

std::vector<LabelledText> read_labelled(const std::vector<std::string>& paths,
                                        const std::string& format,
                                        const std::vector<std::string>& labels) {
  KILN_CHECK(format == "jsonl" || format == "folders",
             "data.format: expected \"jsonl\" or \"folders\" for labelled text, got \"", format,
             "\"");
  std::vector<LabelledText> all;
  for (const std::string& path : paths) {
    std::vector<LabelledText> more =
        format == "jsonl" ? read_labelled_jsonl(path, labels) : read_labelled_folders(path, labels);
    all.insert(all.end(), std::make_move_iterator(more.begin()),
               std::make_move_iterator(more.end()));
  }
  return all;
}

LabelledSplit split_labelled(std::vector<LabelledText> examples, double fraction, uint64_t seed) {
  LabelledSplit split;
  for (LabelledText& e : examples) {
    bool held_out = random_uniform(seed, fnv1a_64(e.text)) < fraction;
    (held_out ? split.held_out : split.train).push_back(std::move(e));
  }
  return split;
}

}  // namespace kiln
