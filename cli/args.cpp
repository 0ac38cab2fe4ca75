// Command-line parsing shared by every subcommand.
#include "cli/args.h"

#include <algorithm>
#include <cstdlib>

#include "base/error.h"

namespace kiln::cli {

Args::Args(const std::string& command, int argc, char** argv,
           const std::vector<std::string>& options, const std::vector<std::string>& flags)
    : command_(command) {
  auto known = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      values_["help"].push_back("");
    } else if (arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2), value;
      std::size_t eq = name.find('=');
      bool inline_value = eq != std::string::npos;
      if (inline_value) value = name.substr(eq + 1), name = name.substr(0, eq);
      if (known(flags, name)) {
        values_[name].push_back("");
      } else if (known(options, name)) {
        if (!inline_value) {
          KILN_CHECK(i + 1 < argc, "kiln ", command_, ": expected a value after --", name,
                     ", got the end of the line");
          value = argv[++i];
        }
        values_[name].push_back(value);
      } else {
        throw Error("kiln " + command_ + ": expected a known option (see 'kiln " + command_ +
                    " --help'), got " + arg);
      }
    } else {
      positionals_.push_back(arg);
    }
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::get_int(const std::string& name, long long fallback) const {
  if (!has(name)) return fallback;
  std::string v = get(name);
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  KILN_CHECK(!v.empty() && *end == '\0', "kiln ", command_, ": --", name,
             ": expected an integer, got \"", v, "\"");
  return n;
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  std::string v = get(name);
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  KILN_CHECK(!v.empty() && *end == '\0', "kiln ", command_, ": --", name,
             ": expected a number, got \"", v, "\"");
  return n;
}

std::string Args::require(const std::string& name) const {
  KILN_CHECK(has(name), "kiln ", command_, ": expected --", name, " (see 'kiln ", command_,
             " --help'), got none");
  return get(name);
}

}  // namespace kiln::cli
