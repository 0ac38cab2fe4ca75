// What every kiln subcommand shares on top of CLI11: option checks whose messages read like
// kiln's other errors ("expected X, got Y"), and the help layout ("usage: kiln ..." first).
#pragma once

#include <CLI/CLI.hpp>
#include <climits>
#include <memory>
#include <string>

namespace kiln::cli {

// An integer in [low, high]; the message names the range the way a person would say it.
CLI::Validator integer_in(long long low, long long high = LLONG_MAX);
// Any integer (e.g. a seed); rejects text that is not one.
CLI::Validator any_integer();
// A finite number with `ok(x)` true; `expected` says what ok means ("a number >= 0").
CLI::Validator finite_number(bool (*ok)(double), const std::string& expected);
// One of `choices`, e.g. {"gpt", "bert"} (name them in the option's type_name).
CLI::Validator one_of(const std::vector<std::string>& choices);

// The help layout of every kiln command: usage line, description, options, footer.
std::shared_ptr<CLI::Formatter> make_formatter();

// Exit with `code` from a command's callback without it being an error (e.g. 130 after
// Ctrl-C); main() turns it into the exit code.
[[noreturn]] void exit_with(int code);

}  // namespace kiln::cli
