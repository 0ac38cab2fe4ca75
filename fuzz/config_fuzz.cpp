// Fuzz target: the YAML config loader with its schema checks (train/config.h parse_config).
// Lines after a line "#--set" are `--set` overrides; an accepted config must survive to_yaml.
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "train/config.h"

KILN_FUZZ_TARGET(config) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  const std::string marker = "\n#--set\n";
  if (size_t at = text.find(marker); at != std::string::npos) {
    std::string rest = text.substr(at + marker.size());
    text.resize(at);
    for (size_t start = 0; start <= rest.size();) {
      size_t end = rest.find('\n', start);
      if (end == std::string::npos) end = rest.size();
      if (end > start) overrides.push_back(rest.substr(start, end - start));
      start = end + 1;
    }
  }
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::Config config = kiln::parse_config(text, "fuzz.yaml", overrides);
    // The contract of to_yaml: the resolved config reads back to an equal one.
    const kiln::Config again = kiln::parse_config(kiln::to_yaml(config), "resolved.yaml");
    if (kiln::fuzz::verbose() && !(again == config))
      for (const std::string& key : kiln::config_differences(config, again))
        std::fprintf(stderr, "%s: %s became %s\n", key.c_str(),
                     kiln::config_value(config, key).c_str(),
                     kiln::config_value(again, key).c_str());
    kiln::fuzz::require(again == config, "parse_config(to_yaml(c)) == c");
  });
  return 0;
}
