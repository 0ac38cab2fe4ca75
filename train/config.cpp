// Reading a config: walk the YAML tree against the schema (unknown and duplicate keys), lay
// --set overrides on top, then decode, fill defaults and check every rule, remembering where
// each key came from for the error message.
#include "train/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/error.h"
#include "io/hdf5_file.h"
#include "io/utf8.h"
#include "train/config_codec.h"
#include "train/config_limits.h"
#include "train/config_schema.h"

namespace kiln {

namespace {
constexpr std::pair<Arch, const char*> kArchNames[] = {{Arch::kGpt, "gpt"},
                                                       {Arch::kBert, "bert"},
                                                       {Arch::kBertClassifier, "bert-classifier"},
                                                       {Arch::kMarian, "marian"}};
}  // namespace

const char* arch_name(Arch arch) {
  for (const auto& [value, name] : kArchNames)
    if (value == arch) return name;
  return "unknown";
}

std::optional<Arch> parse_arch(const std::string& name) {
  for (const auto& [value, name_of_value] : kArchNames)
    if (name == name_of_value) return value;
  return std::nullopt;
}
namespace {

// The key tree implied by the field paths.
struct KeyTree {
  std::set<std::string> keys;      // "train.optimizer.lr"
  std::set<std::string> sections;  // "train", "train.optimizer", and "" for the root
  std::map<std::string, std::vector<std::string>> children;  // section -> names, in order
};

const KeyTree& key_tree() {
  static const KeyTree tree = [] {
    KeyTree t;
    t.sections.insert("");
    for (const ConfigField& f : config_fields()) {
      t.keys.insert(f.path);
      std::string parent;
      for (size_t start = 0;;) {
        size_t dot = f.path.find('.', start);
        std::string name = f.path.substr(start, dot - start);
        std::vector<std::string>& names = t.children[parent];
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        if (dot == std::string::npos) break;
        parent = f.path.substr(0, dot);
        t.sections.insert(parent);
        start = dot + 1;
      }
    }
    return t;
  }();
  return tree;
}

// Levenshtein distance, for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// "unknown key" plus the likeliest intended key: a typo within two edits, else the same
// name in another section (train.lr -> train.optimizer.lr), else the section's keys.
std::string unknown_key_problem(const std::string& path) {
  const KeyTree& tree = key_tree();
  std::string best;
  size_t best_distance = 3;
  for (const std::set<std::string>* known : {&tree.keys, &tree.sections}) {
    for (const std::string& candidate : *known) {
      if (candidate.empty() || path.starts_with(candidate + ".")) continue;
      size_t distance = edit_distance(path, candidate);
      if (distance < best_distance) best = candidate, best_distance = distance;
    }
  }
  size_t dot = path.rfind('.');
  std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
  for (const std::string& key : tree.keys) {
    if (best.empty() && key.ends_with("." + name)) best = key;
  }
  if (!best.empty()) return "unknown key (did you mean " + best + "?)";
  std::string parent = dot == std::string::npos ? "" : path.substr(0, dot);
  auto names = tree.children.find(parent);
  if (names == tree.children.end()) return "unknown key";
  std::string list;
  for (const std::string& n : names->second) list += (list.empty() ? "" : ", ") + n;
  return "unknown key (" + (parent.empty() ? "sections are" : parent + " has") + ": " + list + ")";
}

// Everything read so far: each key's YAML value and where it came from.
struct Sources {
  struct Entry {
    YAML::Node node;
    std::string where;  // "file:12: " or "--set "
  };
  std::string file;
  std::map<std::string, Entry> values;
  std::map<std::string, int> section_lines;

  std::string at_line(int line) const { return file + ":" + std::to_string(line) + ": "; }

  // The key's own location if it was given, else its closest section's line, else the file.
  std::string where(const std::string& path) const {
    if (auto it = values.find(path); it != values.end()) return it->second.where;
    for (std::string section = path; section.find('.') != std::string::npos;) {
      section.resize(section.rfind('.'));
      if (auto it = section_lines.find(section); it != section_lines.end()) {
        return at_line(it->second);
      }
    }
    return file + ": ";
  }
};

// Records every key of the mapping `node` (the section `section`, at `line`) in `sources`.
void walk(const YAML::Node& node, const std::string& section, int line, Sources& sources) {
  using config_codec::describe;
  if (node.IsNull()) return;  // "eval:" with nothing under it keeps the defaults
  if (!node.IsMap()) {
    if (section.empty()) {
      throw Error(sources.at_line(line) +
                  "expected a mapping of sections (run: ..., data: ...), got " + describe(node));
    }
    throw_config_error(sources.at_line(line), section,
                       "expected a mapping of keys, got " + describe(node));
  }
  const KeyTree& tree = key_tree();
  std::map<std::string, int> seen;
  for (const auto& entry : node) {
    int key_line = entry.first.Mark().line + 1;
    std::string where = sources.at_line(key_line);
    if (!entry.first.IsScalar()) {
      throw Error(where + section + (section.empty() ? "" : ": ") + "expected a key name, got " +
                  describe(entry.first));
    }
    std::string path = (section.empty() ? "" : section + ".") + entry.first.Scalar();
    auto [first, fresh] = seen.emplace(path, key_line);
    if (!fresh) {
      throw_config_error(where, path,
                         "duplicate key (first at line " + std::to_string(first->second) + ")");
    }
    if (tree.sections.count(path)) {
      sources.section_lines[path] = key_line;
      walk(entry.second, path, key_line, sources);
    } else if (tree.keys.count(path)) {
      sources.values[path] = {entry.second, where};
    } else {
      throw_config_error(where, path, unknown_key_problem(path));
    }
  }
}

// Lays one "key.path=value" override over the file's value for that key.
void apply_override(const std::string& override_text, Sources& sources) {
  size_t equals = override_text.find('=');
  KILN_CHECK(equals != std::string::npos, "--set ", override_text,
             ": expected key.path=value, got no '='");
  std::string path = override_text.substr(0, equals);
  path.erase(0, path.find_first_not_of(' '));
  path.erase(path.find_last_not_of(' ') + 1);
  const KeyTree& tree = key_tree();
  if (tree.sections.count(path)) {
    throw_config_error("--set ", path,
                       "expected a key, got a section (set its keys one by one, e.g. " + path +
                           "." + tree.children.at(path).front() + "=...)");
  }
  if (!tree.keys.count(path)) throw_config_error("--set ", path, unknown_key_problem(path));
  std::string value = override_text.substr(equals + 1);
  try {
    sources.values[path] = {YAML::Load(value), "--set "};
  } catch (const YAML::Exception& e) {
    throw_config_error(
        "--set ", path,
        "expected a YAML value, got " + config_codec::quoted(value) + " (" + e.msg + ")");
  }
}

// The /config text of a kiln checkpoint (kept here so config needs only the HDF5 wrapper).
std::string read_checkpoint_config(const std::string& path) {
  KILN_CHECK(std::filesystem::exists(path), path, ": no such file");
  return Hdf5File(path, Hdf5File::Mode::kRead).read_string("/config");
}

// Decodes every key, fills defaults and checks every rule, in schema order.
Config resolve(const Sources& sources) {
  Config config;
  // With model.init_from, the model keys (and the tokenizer kind) come from that checkpoint.
  std::optional<Config> base;
  if (auto it = sources.values.find("model.init_from"); it != sources.values.end() &&
                                                        it->second.node.IsScalar() &&
                                                        !it->second.node.Scalar().empty()) {
    const std::string path = it->second.node.Scalar();
    std::string text;
    try {
      text = read_checkpoint_config(path);
    } catch (const Error& e) {
      throw_config_error(it->second.where, "model.init_from",
                         std::string("expected a readable checkpoint, got ") + e.what());
    }
    base = parse_config(text, path + ":/config");
  }
  auto inherited = [&](const std::string& path) {
    return base && path != "model.init_from" &&
           (path.rfind("model.", 0) == 0 || path == "data.tokenizer");
  };
  // Keys that may differ from the checkpoint's: dropout (fine-tuning may change it), and the
  // head when a BERT pretraining checkpoint starts a classifier (its cls.* heads are dropped
  // and a classifier head is added).
  auto may_differ = [&](const std::string& path) {
    const bool new_head =
        base->model.arch == Arch::kBert && config.model.arch == Arch::kBertClassifier;
    return path == "model.dropout" ||
           (new_head && (path == "model.arch" || path == "model.num_labels"));
  };
  for (const ConfigField& f : config_fields()) {
    if (auto it = sources.values.find(f.path); it != sources.values.end()) {
      std::string problem = f.read(config, it->second.node);
      if (!problem.empty()) throw_config_error(it->second.where, f.path, problem);
      if (inherited(f.path) && !may_differ(f.path) && !f.same(config, *base)) {
        throw_config_error(it->second.where, f.path,
                           "expected " + f.show(*base) + " (the value in model.init_from " +
                               base->model.init_from + "), got " + f.show(config));
      }
    } else if (inherited(f.path)) {
      f.read(config, f.write(*base));
    } else if (f.required && !(f.optional_for_marian && config.model.arch == Arch::kMarian)) {
      throw_config_error(sources.where(f.path), f.path, "required key is missing");
    }
  }
  if (base) config.model.init_from = sources.values.at("model.init_from").node.Scalar();
  // Derived defaults run after every explicit value is in, so a default may depend on a key
  // of a later section (data.tokenizer on model.arch). Only absent keys are derived.
  for (const ConfigField& f : config_fields())
    if (f.derive && !sources.values.count(f.path)) f.derive(config);
  for (const ConfigField& f : config_fields()) {
    std::string problem = f.check(config);
    if (!problem.empty()) throw_config_error(sources.where(f.path), f.path, problem);
  }
  check_cross_fields(config, [&](const std::string& path) { return sources.where(path); });
  return config;
}

// YAML streams are UTF-8. yaml-cpp keeps invalid bytes when it reads but writes U+FFFD when it
// emits, so the resolved config of a checkpoint would name another file; refuse them here.
void check_utf8(const std::string& text, const std::string& where_prefix, bool count_lines) {
  int line = 1;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    if (!c.ok()) {
      throw Error(where_prefix + (count_lines ? std::to_string(line) + ": " : "") +
                  "expected UTF-8 text, got an invalid byte sequence at byte offset " +
                  std::to_string(pos));
    }
    if (text[pos] == '\n') ++line;
    pos += static_cast<size_t>(c.length);
  }
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides) {
  Sources sources;
  sources.file = source_name;
  check_utf8(yaml_text, source_name + ":", true);
  for (const std::string& o : overrides)
    check_utf8(o, "--set " + o.substr(0, o.find('=')) + ": ", false);
  try {
    YAML::Node root = YAML::Load(yaml_text);
    walk(root, "", root.Mark().line + 1, sources);
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? source_name + ": " : sources.at_line(e.mark.line + 1);
    throw Error(where + "invalid YAML: " + e.msg);
  }
  for (const std::string& o : overrides) apply_override(o, sources);
  return resolve(sources);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ignored;
  std::ifstream in(path, std::ios::binary);
  KILN_CHECK(in && std::filesystem::is_regular_file(path, ignored), path,
             ": expected a readable config file, got none (relative paths start from the "
             "working directory, ",
             std::filesystem::current_path(ignored).string(), ")");
  std::ostringstream text;
  text << in.rdbuf();
  Config config = parse_config(text.str(), path, overrides);
  // A config file is what a run trains: it must fit this machine. (A checkpoint's config is
  // parsed without this check, so a model trained elsewhere can still be sampled here.)
  check_model_memory(config, [&](const std::string& key) {
    for (const std::string& o : overrides)
      if (o.starts_with(key + "=")) return std::string("--set ");
    return path + ": ";
  });
  return config;
}

}  // namespace kiln
