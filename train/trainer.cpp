// The training loop. Every source of randomness is a function of (run.seed, step), so a run
// resumed from a checkpoint continues bit-identically.
#include "train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "base/rng.h"
#include "nn/adamw.h"
#include "nn/parameter_arena.h"
#include "nn/schedule.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/task.h"

namespace kiln {
namespace fs = std::filesystem;
namespace {

inline constexpr uint64_t kDropoutStream = 3;

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int signal) {
  g_stop_signal = signal;
}

// Installs SIGINT/SIGTERM handlers for the loop's lifetime; restores the old ones after.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    previous_int_ = std::signal(SIGINT, on_stop_signal);
    previous_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignals() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  bool requested() const { return g_stop_signal != 0; }

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

nn::Schedule schedule_for(const Config& c) {
  const ScheduleConfig& s = c.train.schedule;
  nn::ScheduleKind kind = s.name == "cosine"   ? nn::ScheduleKind::kCosine
                          : s.name == "linear" ? nn::ScheduleKind::kLinear
                                               : nn::ScheduleKind::kConstant;
  return {kind, c.train.optimizer.lr, s.min_lr, s.warmup_steps, c.train.max_steps};
}

std::string format_duration(double seconds) {
  char out[32];
  long s = std::lround(std::max(0.0, seconds));
  std::snprintf(out, sizeof out, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return out;
}

// One line per report: updated in place on a terminal, appended otherwise.
class Progress {
 public:
  Progress() : tty_(isatty(STDERR_FILENO)) {}
  void show(const std::string& line, bool keep) {
    if (tty_)
      std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), keep ? "\n" : "");
    else
      std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
  bool tty() const { return tty_; }

 private:
  bool tty_;
};

}  // namespace

TrainResult train(const TrainOptions& options) {
  Config config = load_config(options.config_path, options.overrides);
  Progress progress;

  // Resume: the checkpoint's config decides what is trained; the new one may only change
  // run length, evaluation, logging and checkpointing.
  std::optional<Checkpoint> checkpoint;
  std::string resume_path = options.resume;
  if (resume_path == "auto") resume_path = find_latest_checkpoint(config.run.out_dir).value_or("");
  if (!resume_path.empty()) {
    checkpoint = load_checkpoint(resume_path);
    Config saved = parse_config(checkpoint->state.config_yaml, resume_path + ":/config");
    for (const std::string& key : check_resume(saved, config))
      progress.show("note: " + key + " changed from " + config_value(saved, key) + " to " +
                        config_value(config, key) +
                        "; the run will differ from an uninterrupted one",
                    true);
    for (const std::string& key : config_differences(saved, config))
      if (key_role(key) == KeyRole::kSchedule)
        progress.show("note: " + key + " is now " + config_value(config, key) + " (was " +
                          config_value(saved, key) + ")",
                      true);
  }

  set_num_threads(config.run.threads > 0 ? config.run.threads : num_threads());
  fs::create_directories(config.run.out_dir);
  { std::ofstream(fs::path(config.run.out_dir) / "config.yaml") << to_yaml(config); }
  // Fine-tuning: weights and tokenizer from model.init_from, a fresh optimizer and schedule.
  std::optional<Checkpoint> init;
  if (!checkpoint && !config.model.init_from.empty())
    init = load_checkpoint(config.model.init_from);
  std::optional<std::string> tokenizer;
  if (checkpoint) tokenizer = checkpoint->state.tokenizer;
  if (init) tokenizer = init->state.tokenizer;
  std::unique_ptr<Task> task_owner = make_task(config, tokenizer);
  Task& task = *task_owner;
  nn::ParameterArena arena(task.model(), config.train.freeze);
  if (init) {
    // Lenient: a classifier started from a pretraining checkpoint has a new head and drops cls.*.
    RestoreReport report = restore_matching(*init, arena);
    auto names = [](const std::vector<std::string>& v) {
      std::string out;
      for (const std::string& n : v) out += (out.empty() ? "" : ", ") + n;
      return out.empty() ? std::string("none") : out;
    };
    progress.show("initialised from " + config.model.init_from + " (step " +
                      std::to_string(init->state.step) + ")",
                  true);
    if (!report.initialised.empty() || !report.unused.empty())
      progress.show(
          "initialised: " + names(report.initialised) + "; unused: " + names(report.unused), true);
  }
  const OptimizerConfig& o = config.train.optimizer;
  nn::AdamW optimizer(arena,
                      {float(o.betas[0]), float(o.betas[1]), float(o.eps), float(o.weight_decay)});
  CheckpointState state;
  if (checkpoint) {
    restore_checkpoint(*checkpoint, arena, &optimizer);
    state = checkpoint->state;
    progress.show("resumed from " + resume_path + " at step " + std::to_string(state.step), true);
  }
  state.config_yaml = to_yaml(config);
  state.tokenizer = task.serialized_tokenizer();
  const nn::Schedule schedule = schedule_for(config);
  MetricsLog metrics(config.run.out_dir, state.step);
  progress.show("model: " + std::to_string(arena.size()) + " parameters; training steps " +
                    std::to_string(state.step) + " -> " + std::to_string(config.train.max_steps) +
                    " on " + std::to_string(num_threads()) + " threads",
                true);

  TrainResult result;
  auto save = [&] {
    result.last_checkpoint = checkpoint_path(config.run.out_dir, state.step);
    save_checkpoint(result.last_checkpoint, arena, &optimizer, state);
    prune_checkpoints(config.run.out_dir, config.checkpoint.keep_last);
  };
  auto save_if_best = [&](double val_loss) {
    if (!config.checkpoint.keep_best || !(val_loss < state.best_val_loss)) return;
    state.best_val_loss = val_loss;
    save_checkpoint((fs::path(config.run.out_dir) / "best.h5").string(), arena, &optimizer, state);
  };
  auto evaluate = [&] {
    Metrics m = task.evaluate();
    metrics.add({"eval", state.step, m});
    metrics.write_plot();
    std::string line = "step " + std::to_string(state.step);
    for (auto& [k, v] : m) {
      char value[48];
      std::snprintf(value, sizeof value, " %s %.4f", k.c_str(), v);
      line += value;
      if (k == "val_loss") result.last_val_loss = v;
    }
    progress.show(line, true);
    save_if_best(result.last_val_loss);
  };

  StopSignals stop;
  using Clock = std::chrono::steady_clock;
  auto interval_start = Clock::now();
  int64_t interval_tokens = 0, interval_steps = 0, interval_micro_batches = 0;
  double interval_loss = 0;
  Metrics interval_metrics;  // the task's own numbers, summed over the interval's micro-batches
  const int accum = config.train.grad_accum;
  while (state.step < config.train.max_steps && !stop.requested()) {
    arena.zero_grads();
    double step_loss = 0;
    for (int micro = 0; micro < accum; ++micro) {
      uint64_t dropout_seed =
          derive_seed(derive_seed(config.run.seed, kDropoutStream), state.step * accum + micro);
      TrainLoss out = task.train_loss(state.step, micro, dropout_seed);
      step_loss += out.loss.item() / accum;
      backward(out.loss);
      if (interval_metrics.empty()) interval_metrics = Metrics(out.metrics.size(), {"", 0.0});
      for (std::size_t i = 0; i < out.metrics.size(); ++i) {
        interval_metrics[i].first = out.metrics[i].first;
        interval_metrics[i].second += out.metrics[i].second;
      }
      ++interval_micro_batches;
    }
    KILN_CHECK(std::isfinite(step_loss), "train: expected a finite loss, got ", step_loss,
               " at step ", state.step, " (try a lower train.optimizer.lr)");
    if (accum > 1) arena.scale_grads(1.0f / float(accum));
    double grad_norm = arena.grad_norm();
    if (config.train.grad_clip > 0 && grad_norm > config.train.grad_clip)
      arena.scale_grads(static_cast<float>(config.train.grad_clip / grad_norm));
    const double lr = schedule.lr(state.step);
    optimizer.step(static_cast<float>(lr));
    state.step++;
    state.tokens_seen += task.tokens_per_micro_batch() * accum;
    interval_tokens += task.tokens_per_micro_batch() * accum;
    interval_steps++;
    interval_loss += step_loss;

    const bool last = state.step == config.train.max_steps;
    if (config.log.every > 0 && (state.step % config.log.every == 0 || last)) {
      double seconds = std::chrono::duration<double>(Clock::now() - interval_start).count();
      double tokens_per_s = interval_tokens / std::max(seconds, 1e-9);
      double eta = (config.train.max_steps - state.step) * seconds / double(interval_steps);
      double mean_loss = interval_loss / double(interval_steps);
      const double epoch = task.epochs_after(state.step);
      Metrics logged{{"loss", mean_loss},
                     {"lr", lr},
                     {"grad_norm", grad_norm},
                     {"epoch", epoch},
                     {"tokens_per_s", tokens_per_s}};
      std::string extra;
      for (const auto& [key, sum] : interval_metrics) {
        double mean = sum / double(interval_micro_batches);
        logged.emplace_back(key, mean);
        char part[64];
        std::snprintf(part, sizeof part, "  %s %.3f", key.c_str(), mean);
        extra += part;
      }
      metrics.add({"train", state.step, logged});
      char line[160];
      std::snprintf(
          line, sizeof line, "step %lld/%lld  loss %.4f  lr %.2e  epoch %.2f  %.0f tok/s  left %s",
          static_cast<long long>(state.step), static_cast<long long>(config.train.max_steps),
          mean_loss, lr, epoch, tokens_per_s, format_duration(eta).c_str());
      progress.show(line + extra, false);
      interval_metrics.clear();
      interval_micro_batches = 0;
      interval_start = Clock::now();
      interval_tokens = interval_steps = 0;
      interval_loss = 0;
    }
    if (config.eval.every > 0 && state.step % config.eval.every == 0 && !last) evaluate();
    if (config.checkpoint.every > 0 && state.step % config.checkpoint.every == 0 && !last) save();
  }
  if (progress.tty()) std::fputc('\n', stderr);
  result.interrupted = stop.requested();
  if (!result.interrupted) evaluate();
  save();
  result.final_step = state.step;
  progress.show(
      (result.interrupted ? "interrupted; saved " : "done; saved ") + result.last_checkpoint, true);
  return result;
}

}  // namespace kiln
