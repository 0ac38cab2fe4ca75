// Named crash points for the kill-anywhere tests: a test sets KILN_FAULT_POINT and the process
// dies by SIGKILL at that place, as it would from a power cut or the OOM killer.
#pragma once

#include <string_view>

namespace kiln::io {

// Raises SIGKILL when the environment variable KILN_FAULT_POINT is `name` (at its first hit)
// or `name:N` (at its N-th hit, counting from 1); otherwise does nothing. The variable is read
// once per process, so an unset variable costs one comparison.
void fault_point(std::string_view name);

}  // namespace kiln::io
