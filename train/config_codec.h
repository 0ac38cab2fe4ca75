// How each config value type reads from YAML, writes to YAML and prints in messages.
// Numbers are parsed strictly (the whole scalar, no "1e3" for an integer) and written in
// their shortest exact form, so to_yaml -> parse_config gives back the same bits.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "train/config.h"

namespace kiln::config_codec {

// `text` in double quotes, for strings in messages.
inline std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// What a YAML node holds, for "got ..." in messages.
inline std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return quoted(node.Scalar());
  return node.IsSequence() ? "a list" : "a mapping";
}

// Parses all of `text` as a T; from_chars because it takes no locale and no leading space.
template <typename T>
bool parse_number(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

// The shortest text that parses back to exactly `value`, always with a '.' so that YAML
// readers in other languages (PyYAML) see a float, e.g. "0.001", "1.0", "1.0e-05".
inline std::string format_double(double value) {
  char buffer[64];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, ptr);
  if (text.find_first_of(".ni") != std::string::npos) return text;  // has '.', inf or nan
  size_t e = text.find('e');
  return e == std::string::npos ? text + ".0" : text.insert(e, ".0");
}

template <typename T>
struct Codec;

template <>
struct Codec<std::string> {
  static constexpr const char* kNoun = "a string";
  static bool decode(const YAML::Node& node, std::string& value) {
    if (!node.IsScalar()) return false;
    value = node.Scalar();
    return true;
  }
  static YAML::Node encode(const std::string& value) { return YAML::Node(value); }
  static std::string show(const std::string& value) { return quoted(value); }
};

// YAML 1.2 booleans only (true/false), so that "yes" or "1" is not silently taken as true.
template <>
struct Codec<bool> {
  static constexpr const char* kNoun = "true or false";
  static bool decode(const YAML::Node& node, bool& value) {
    if (!node.IsScalar() || (node.Scalar() != "true" && node.Scalar() != "false")) return false;
    value = node.Scalar() == "true";
    return true;
  }
  static YAML::Node encode(bool value) { return YAML::Node(value ? "true" : "false"); }
  static std::string show(bool value) { return value ? "true" : "false"; }
};

template <std::integral T>
requires(!std::same_as<T, bool>) struct Codec<T> {
  static constexpr const char* kNoun =
      std::is_signed_v<T> ? "an integer" : "a non-negative integer";
  static bool decode(const YAML::Node& node, T& value) {
    return node.IsScalar() && parse_number(node.Scalar(), value);
  }
  static YAML::Node encode(T value) { return YAML::Node(std::to_string(value)); }
  static std::string show(T value) { return std::to_string(value); }
};

template <>
struct Codec<double> {
  static constexpr const char* kNoun = "a number";
  static bool decode(const YAML::Node& node, double& value) {
    return node.IsScalar() && parse_number(node.Scalar(), value) && std::isfinite(value);
  }
  static YAML::Node encode(double value) { return YAML::Node(format_double(value)); }
  static std::string show(double value) { return format_double(value); }
};

// model.arch: one of the names arch_name gives.
template <>
struct Codec<Arch> {
  static constexpr const char* kNoun = "one of \"gpt\", \"bert\", \"bert-classifier\"";
  static bool decode(const YAML::Node& node, Arch& value) {
    if (!node.IsScalar()) return false;
    std::optional<Arch> arch = parse_arch(node.Scalar());
    if (arch) value = *arch;
    return arch.has_value();
  }
  static YAML::Node encode(Arch value) { return YAML::Node(arch_name(value)); }
  static std::string show(Arch value) { return quoted(arch_name(value)); }
};

// "auto" or a positive count; nullopt stands for "auto".
template <>
struct Codec<std::optional<int>> {
  static constexpr const char* kNoun = "\"auto\" or an integer";
  static bool decode(const YAML::Node& node, std::optional<int>& value) {
    if (node.IsScalar() && node.Scalar() == "auto") {
      value.reset();
      return true;
    }
    int number = 0;
    if (!Codec<int>::decode(node, number)) return false;
    value = number;
    return true;
  }
  static YAML::Node encode(const std::optional<int>& value) {
    return value ? Codec<int>::encode(*value) : YAML::Node("auto");
  }
  static std::string show(const std::optional<int>& value) {
    return value ? std::to_string(*value) : "auto";
  }
};

// A list written in flow style ("[a, b]"); for strings a single scalar is a one-item list.
template <typename Item, typename List>
struct ListCodec {
  static bool decode_items(const YAML::Node& node, List& value, size_t size) {
    if (!node.IsSequence() || (size && node.size() != size)) return false;
    size_t i = 0;
    for (const YAML::Node& item : node) {
      if (!Codec<Item>::decode(item, value[i++])) return false;
    }
    return true;
  }
  static YAML::Node encode(const List& value) {
    YAML::Node node(YAML::NodeType::Sequence);
    for (const Item& item : value) node.push_back(Codec<Item>::encode(item));
    node.SetStyle(YAML::EmitterStyle::Flow);
    return node;
  }
  static std::string show(const List& value) {
    std::string text = "[";
    for (const Item& item : value) text += (text.size() > 1 ? ", " : "") + Codec<Item>::show(item);
    return text + "]";
  }
};

template <>
struct Codec<std::vector<std::string>> : ListCodec<std::string, std::vector<std::string>> {
  static constexpr const char* kNoun = "a list of strings";
  static bool decode(const YAML::Node& node, std::vector<std::string>& value) {
    if (node.IsScalar()) {
      value = {node.Scalar()};
      return true;
    }
    value.assign(node.IsSequence() ? node.size() : 0, "");
    return decode_items(node, value, 0);
  }
};

template <>
struct Codec<std::array<double, 2>> : ListCodec<double, std::array<double, 2>> {
  static constexpr const char* kNoun = "a list of two numbers";
  static bool decode(const YAML::Node& node, std::array<double, 2>& value) {
    return decode_items(node, value, 2);
  }
};

}  // namespace kiln::config_codec
