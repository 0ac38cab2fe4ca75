// Run metrics: one JSON object per line in <run>/metrics.jsonl, and a loss plot (SVG, opens
// in any browser) redrawn from the recorded history at each evaluation and at the end.
#pragma once

#include <cstdint>
#include <fstream>
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
  // dropped first, so a resumed run does not repeat steps it redoes).
  MetricsLog(const std::string& dir, int64_t resume_step);

  void add(const MetricEvent& event);
  // Writes <dir>/loss.svg: every numeric series whose name ends in "loss", by step.
  void write_plot() const;

 private:
  std::string dir_;
  std::vector<MetricEvent> history_;
  std::ofstream out_;
};

// The JSON text of one event: {"kind":"train","step":10,"loss":2.5,...}.
std::string to_json(const MetricEvent& event);
// Parses a line written by to_json; returns false for anything else.
bool parse_metric_line(const std::string& line, MetricEvent& event);

}  // namespace kiln
