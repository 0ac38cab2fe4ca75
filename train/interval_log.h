// What a run reports while it trains: one progress line per report on stderr (updated in place
// on a terminal), and the "train" events of metrics.jsonl, each the mean over the steps since
// the previous report.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "train/metrics.h"
#include "train/task.h"
#include "train/train_step.h"

namespace kiln {

class Progress {
 public:
  // A disabled Progress shows nothing (ranks other than 0 of a data-parallel run).
  explicit Progress(bool enabled = true);
  // Shows `line`; `keep` leaves it on screen (otherwise the next line overwrites it on a tty).
  void show(const std::string& line, bool keep = true);
  // Ends an overwritable line, so that what follows starts on a line of its own.
  void finish_line();

 private:
  bool enabled_;
  bool tty_;
  bool open_line_ = false;
};

// Sums over the steps since the last report; report() writes their means.
class IntervalLog {
 public:
  // `metrics` may be null: then only the progress line is shown.
  IntervalLog(MetricsLog* metrics, Progress& progress, int64_t max_steps);
  // `terms`: the loss terms the step's metric sums add up (StepPlan::terms).
  void add(const StepResult& step, int terms, int64_t tokens);
  // Writes {"kind":"train","step":...,"loss":...,"lr":...,"grad_norm":...,"epoch":...,
  // "tokens_per_s":..., then the task's metrics} and the progress line, then starts anew.
  void report(int64_t step, double lr, double epoch);

 private:
  using Clock = std::chrono::steady_clock;
  MetricsLog* metrics_;
  Progress& progress_;
  int64_t max_steps_;
  Clock::time_point start_ = Clock::now();
  int64_t tokens_ = 0, steps_ = 0, micro_batches_ = 0;
  double loss_sum_ = 0, last_grad_norm_ = 0;
  Metrics metric_sums_;
};

// "1:02:03" for 3723 seconds.
std::string format_duration(double seconds);

}  // namespace kiln
