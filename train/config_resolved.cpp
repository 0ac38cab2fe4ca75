// What can be done with a resolved Config: write it back as YAML, compare two of them key
// by key, and the resume rules built on that comparison.
#include <sstream>

#include "base/error.h"
#include "train/config.h"
#include "train/config_schema.h"

namespace kiln {
namespace {

const ConfigField* find_field(const std::string& path) {
  for (const ConfigField& f : config_fields()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

}  // namespace

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::Comment("kiln config, resolved: every key with the value the run uses");
  out << YAML::BeginMap;
  std::vector<std::string> open;  // the sections currently open, outermost first
  for (const ConfigField& f : config_fields()) {
    std::vector<std::string> parts;
    std::istringstream path(f.path);
    for (std::string part; std::getline(path, part, '.');) parts.push_back(part);
    size_t shared = 0;
    while (shared < open.size() && shared + 1 < parts.size() && open[shared] == parts[shared]) {
      ++shared;
    }
    for (; open.size() > shared; open.pop_back()) out << YAML::EndMap;
    while (open.size() + 1 < parts.size()) {
      open.push_back(parts[open.size()]);
      out << YAML::Key << open.back() << YAML::Value << YAML::BeginMap;
    }
    out << YAML::Key << parts.back() << YAML::Value << f.write(config);
  }
  for (; !open.empty(); open.pop_back()) out << YAML::EndMap;
  out << YAML::EndMap;
  KILN_CHECK(out.good(), "to_yaml: expected a valid YAML document, got error ", out.GetLastError());
  // A blank line between top-level sections, as in the configs users edit.
  std::istringstream lines(out.c_str());
  std::string text;
  bool first_section = true;
  for (std::string line; std::getline(lines, line);) {
    bool section = !line.empty() && line[0] != ' ' && line[0] != '#';
    if (section && !first_section) text += '\n';
    first_section = first_section && !section;
    text += line + '\n';
  }
  return text;
}

std::vector<std::string> config_differences(const Config& a, const Config& b) {
  std::vector<std::string> paths;
  for (const ConfigField& f : config_fields()) {
    if (!f.same(a, b)) paths.push_back(f.path);
  }
  return paths;
}

std::string config_value(const Config& config, const std::string& key_path) {
  const ConfigField* f = find_field(key_path);
  KILN_CHECK(f, "config_value: expected a config key such as model.d_model, got \"", key_path,
             "\"");
  return f->show(config);
}

KeyRole key_role(const std::string& key_path) {
  const ConfigField* f = find_field(key_path);
  KILN_CHECK(f, "key_role: expected a config key such as model.d_model, got \"", key_path, "\"");
  return f->role;
}

std::vector<std::string> check_resume(const Config& checkpoint, const Config& requested) {
  std::string refused;
  std::vector<std::string> trajectory;
  for (const std::string& path : config_differences(checkpoint, requested)) {
    KeyRole role = key_role(path);
    if (role == KeyRole::kTrajectory) trajectory.push_back(path);
    if (role != KeyRole::kIdentity) continue;
    refused += (refused.empty() ? "" : ", ") + path + " (checkpoint " +
               config_value(checkpoint, path) + ", config " + config_value(requested, path) + ")";
  }
  KILN_CHECK(refused.empty(),
             "resume: expected the checkpoint's value for every model, data, seed and optimizer "
             "key, got ",
             refused, "; start a new run to change these");
  return trajectory;
}

}  // namespace kiln
