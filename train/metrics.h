// Run metrics: one JSON object per line in <run>/metrics.jsonl, and a loss plot (SVG, opens
// in any browser) redrawn from the recorded history at each evaluation and at the end.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

// One event: its kind ("train" or "eval"), the step, and named numeric fields.
struct MetricEvent {
  std::string kind;
  int64_t step = 0;
  std::vector<std::pair<std::string, double>> values;
};

class MetricsLog {
 public:
  // Appends to <dir>/metrics.jsonl (kept when resuming; events after `resume_step` are
  // dropped first, so a resumed run does not repeat steps it redoes). A file that cannot be
  // written is an error naming it and the reason.
  MetricsLog(const std::string& dir, int64_t resume_step);

  // Appends one line; a failed write (disk full, read-only folder) is an error.
  void add(const MetricEvent& event);
  // Writes <dir>/loss.svg (atomically): every numeric series whose name ends in "loss", by step.
  void write_plot() const;

 private:
  std::string dir_;
  std::string path_;  // <dir>/metrics.jsonl
  std::vector<MetricEvent> history_;
};

// The JSON text of one event: {"kind":"train","step":10,"loss":2.5,...}; a non-finite value
// is written as null (JSON has no NaN), and reads back as NaN.
std::string to_json(const MetricEvent& event);
// Parses a line written by to_json; returns false for anything else (such as a line cut short
// by a crash).
bool parse_metric_line(const std::string& line, MetricEvent& event);

}  // namespace kiln
