// config.json <-> kiln Config for the Hugging Face interchange (train/hf_import.h): which
// config.json keys become which kiln keys, and the checks that kiln computes what they say.
#pragma once

#include <cstdint>
#include <string>

#include "io/json.h"
#include "train/config.h"

namespace kiln {

class Tokenizer;

// The path of `file` inside folder `dir`.
std::string path_in(const std::string& dir, const char* file);

// The kiln config of the model that `hf` (config.json of folder `dir`, read from
// `config_path`) describes, with run.seed `seed`. A key kiln does not implement, or a value
// parse_config refuses, is an error naming `config_path` and the key.
Config kiln_config(const json::Value& hf, const std::string& dir, const std::string& config_path,
                   uint64_t seed);

// HF's config.json for the model of `config`; keys sorted, as PretrainedConfig writes them.
json::Value hf_config(const Config& config, const Tokenizer& tokenizer);

}  // namespace kiln
