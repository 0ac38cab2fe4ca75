// The config schema behind train/config.h: one ConfigField per key, from which parsing,
// validation, to_yaml and config_differences all derive. Internal to train/.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "train/config.h"

namespace kiln {

// One key: its dotted path (which is also its member path in Config) and typed operations
// on it. A "problem" is the text after "<where>: <path>: ", empty when there is none.
struct ConfigField {
  std::string path;
  KeyRole role = KeyRole::kIdentity;
  bool required = false;
  bool optional_for_marian = false;  // required for the other archs, derived for marian
  std::function<std::string(Config&, const YAML::Node&)> read;  // problem if not decodable
  std::function<YAML::Node(const Config&)> write;               // the value as a YAML node
  std::function<std::string(const Config&)> show;               // the value as YAML text
  std::function<bool(const Config&, const Config&)> same;
  std::function<std::string(const Config&)> check;  // problem if the value breaks its rule
  std::function<void(Config&)> derive;              // default computed from earlier keys, or null
};

// Every key in YAML order; a section's keys are contiguous so to_yaml can nest them.
const std::vector<ConfigField>& config_fields();

// Maps a key path to the error prefix locating it: "file:12: ", "--set " or "file: ".
using ConfigWhere = std::function<std::string(const std::string& path)>;

// Throws kiln::Error "<where(path)><path>: <problem>".
[[noreturn]] void throw_config_error(const std::string& where, const std::string& path,
                                     const std::string& problem);

// Rules that relate keys (n_head divides d_model, seq_len <= max_seq_len, ...); throws
// kiln::Error located at the key that has to change.
void check_cross_fields(const Config& config, const ConfigWhere& where);

}  // namespace kiln
