// Fuzz target: the Hugging Face config.json reader (train/hf_config.h kiln_config): which keys
// kiln accepts and the config it builds from them.
#include <string_view>

#include "fuzz/fuzz_target.h"
#include "io/json.h"
#include "train/hf_config.h"

KILN_FUZZ_TARGET(hf_config) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::string dir = kiln::fuzz::scratch_dir("hf_model");
  const std::string path = kiln::path_in(dir, "config.json");
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::json::Value hf = kiln::json::parse(text, path);
    const kiln::Config config = kiln::kiln_config(hf, dir, path, 1337);
    kiln::fuzz::require(config.model.n_layer > 0 && config.model.d_model > 0,
                        "an accepted config.json describes a model");
  });
  return 0;
}
