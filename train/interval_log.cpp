// Progress lines and interval means for the training loop.
#include "train/interval_log.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace kiln {

Progress::Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO)) {}

void Progress::show(const std::string& line, bool keep) {
  if (!enabled_) return;
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), keep ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  open_line_ = tty_ && !keep;
  std::fflush(stderr);
}

void Progress::finish_line() {
  if (open_line_) std::fputc('\n', stderr);
  open_line_ = false;
}

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

IntervalLog::IntervalLog(MetricsLog* metrics, Progress& progress, int64_t max_steps)
    : metrics_(metrics), progress_(progress), max_steps_(max_steps) {}

void IntervalLog::add(const StepResult& step, int terms, int64_t tokens) {
  tokens_ += tokens;
  ++steps_;
  micro_batches_ += terms;
  loss_sum_ += step.loss;
  last_grad_norm_ = step.grad_norm;
  if (metric_sums_.empty()) metric_sums_ = Metrics(step.metric_sums.size(), {"", 0.0});
  for (std::size_t i = 0; i < step.metric_sums.size(); ++i) {
    metric_sums_[i].first = step.metric_sums[i].first;
    metric_sums_[i].second += step.metric_sums[i].second;
  }
}

void IntervalLog::report(int64_t step, double lr, double epoch) {
  if (steps_ == 0) return;
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const double tokens_per_s = double(tokens_) / std::max(seconds, 1e-9);
  const double eta = double(max_steps_ - step) * seconds / double(steps_);
  const double mean_loss = loss_sum_ / double(steps_);
  Metrics logged{{"loss", mean_loss},
                 {"lr", lr},
                 {"grad_norm", last_grad_norm_},
                 {"epoch", epoch},
                 {"tokens_per_s", tokens_per_s}};
  std::string line =
      fmt::format("step {}/{}  loss {:.4f}  lr {:.2e}  epoch {:.2f}  {:.0f} tok/s  left {}", step,
                  max_steps_, mean_loss, lr, epoch, tokens_per_s, format_duration(eta));
  for (const auto& [key, sum] : metric_sums_) {
    const double mean = sum / double(micro_batches_);
    logged.emplace_back(key, mean);
    line += fmt::format("  {} {:.3f}", key, mean);
  }
  if (metrics_ != nullptr) metrics_->add({"train", step, logged});
  progress_.show(line, false);
  start_ = Clock::now();
  tokens_ = steps_ = micro_batches_ = 0;
  loss_sum_ = 0;
  metric_sums_.clear();
}

}  // namespace kiln
