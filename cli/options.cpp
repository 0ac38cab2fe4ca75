// kiln's CLI11 validators and help formatter.
#include "cli/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace kiln::cli {
namespace {

bool parse_integer(const std::string& text, long long& value) {
  char* end = nullptr;
  errno = 0;
  value = std::strtoll(text.c_str(), &end, 10);
  return !text.empty() && *end == '\0' && errno == 0;
}

std::string join_choices(const std::vector<std::string>& choices) {
  std::string out;
  for (std::size_t i = 0; i < choices.size(); ++i)
    out += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return out;
}

// "usage: kiln eval --checkpoint PATH [options]" and the like: required options are spelled
// out, the rest is "[options]", then positionals and the subcommand slot.
class KilnFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string out = "usage: " + name;
    auto subcommands = app->get_subcommands([](const CLI::App*) { return true; });
    if (!subcommands.empty()) {
      std::vector<std::string> names;
      for (const CLI::App* sub : subcommands) names.push_back(sub->get_name());
      out += subcommands.size() > 3 ? " <command>" : " <" + CLI::detail::join(names, "|") + ">";
    }
    for (const CLI::Option* opt : app->get_options())
      if (opt->get_required() && opt->nonpositional())
        out += " " + opt->get_name() + " " + opt->get_type_name();
    out += " [options]";
    for (const CLI::Option* opt : app->get_options())
      if (opt->get_positional() && !opt->get_group().empty())
        out += " " + opt->get_name(true) + (opt->get_expected_max() > 1 ? "..." : "");
    return out + "\n";
  }

  // Descriptions wrapped to fit 100 columns beside the option names.
  std::string make_option_desc(const CLI::Option* opt) const override {
    const std::size_t width = 100 - get_column_width();
    std::string text = CLI::Formatter::make_option_desc(opt), out, word;
    std::size_t line = 0;
    std::istringstream words(text);
    while (words >> word) {
      if (line > 0 && line + 1 + word.size() > width) out += "\n", line = 0;
      out += (line > 0 ? " " : "") + word;
      line += (line > 0 ? 1 : 0) + word.size();
    }
    return out;
  }

  // Without CLI11's "=[]" for an empty repeatable option.
  std::string make_option_opts(const CLI::Option* opt) const override {
    std::string out = CLI::Formatter::make_option_opts(opt);
    const std::size_t empty = out.find("=[]");
    return empty == std::string::npos ? out : out.erase(empty, 3);
  }

  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
    std::string out = make_usage(app, name) + "\n" + make_description(app);
    out += make_positionals(app) + make_groups(app, mode) + make_subcommands(app, mode);
    return out + "\n" + make_footer(app);
  }
};

}  // namespace

CLI::Validator integer_in(long long low, long long high) {
  std::string expected = high == LLONG_MAX
                             ? ">= " + std::to_string(low)
                             : "in [" + std::to_string(low) + ", " + std::to_string(high) + "]";
  return CLI::Validator(
      [low, high, expected](std::string& text) -> std::string {
        long long n = 0;
        if (!parse_integer(text, n)) return "expected an integer, got \"" + text + "\"";
        if (n < low || n > high) return "expected an integer " + expected + ", got " + text;
        return {};
      },
      expected);
}

CLI::Validator any_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        long long n = 0;
        return parse_integer(text, n) ? "" : "expected an integer, got \"" + text + "\"";
      },
      "");
}

CLI::Validator finite_number(bool (*ok)(double), const std::string& expected) {
  return CLI::Validator(
      [ok, expected](std::string& text) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return "expected a number, got \"" + text + "\"";
        if (!std::isfinite(x) || !ok(x)) return "expected " + expected + ", got " + text;
        return {};
      },
      "");
}

CLI::Validator one_of(const std::vector<std::string>& choices) {
  const std::string expected = join_choices(choices);
  return CLI::Validator(
      [choices, expected](std::string& text) -> std::string {
        for (const std::string& choice : choices)
          if (text == choice) return {};
        return "expected " + expected + ", got \"" + text + "\"";
      },
      "");
}

std::shared_ptr<CLI::Formatter> make_formatter() {
  auto formatter = std::make_shared<KilnFormatter>();
  formatter->column_width(26);
  return formatter;
}

void exit_with(int code) {
  throw CLI::RuntimeError(code);
}

}  // namespace kiln::cli
