// error_of(fn): the message of the kiln::Error a test expects `fn` to throw, shared by the
// test executables so that each checks messages the same way.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "base/error.h"

namespace kiln {

// The message of the kiln::Error thrown by `fn`, or a test failure (and "") if none is thrown.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a kiln::Error";
  return "";
}

}  // namespace kiln
