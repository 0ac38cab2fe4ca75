// A small command-line parser for kiln's subcommands: "--name value" options (repeatable),
// bare flags, and positionals. Unknown options are errors naming the command.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln::cli {

class Args {
 public:
  // `options` take a value; `flags` do not. "--help"/"-h" is always a flag.
  Args(const std::string& command, int argc, char** argv, const std::vector<std::string>& options,
       const std::vector<std::string>& flags = {});

  bool help() const { return has("help"); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given for --name, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Every value given for a repeatable option such as --set.
  std::vector<std::string> all(const std::string& name) const;
  // Parses --name as a number; errors name the command and the option.
  long long get_int(const std::string& name, long long fallback) const;
  double get_double(const std::string& name, double fallback) const;
  // The value of --name, which must be present.
  std::string require(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

}  // namespace kiln::cli
