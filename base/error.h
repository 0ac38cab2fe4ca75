// kiln::Error and the KILN_CHECK macro: the one way kiln reports bad input or misuse.
// Header-only, in base/ so that every library (autograd, data, nn, train) can use it.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

// Thrown for every recoverable error; the message reads "<where>: expected X, got Y".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
// Joins any streamable arguments into one message string.
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace kiln

// Throws kiln::Error built from the streamed arguments when `cond` is false.
#define KILN_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) throw ::kiln::Error(::kiln::detail::concat(__VA_ARGS__)); \
  } while (0)
