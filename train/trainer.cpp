// The training loop. Every source of randomness is a function of (run.seed, step), so a run
// resumed from a checkpoint continues bit-identically.
#include "train/trainer.h"

#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "autograd/allocator.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "base/rng.h"
#include "dist/communicator.h"
#include "train/interval_log.h"
#include "train/metrics.h"
#include "train/run_setup.h"
#include "train/train_step.h"

namespace kiln {
namespace fs = std::filesystem;
namespace {

inline constexpr uint64_t kDropoutStream = 3;

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int signal) {
  g_stop_signal = signal;
}

// SIGINT/SIGTERM handlers for the whole of train(), installed before anything slow (reading
// and tokenising the corpus) so that a signal at any moment stops the run cleanly; the old
// handlers come back after.
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
  int signal() const { return g_stop_signal; }

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

// For tests, so that they stop a run at a chosen moment instead of after a delay:
// KILN_TEST_SIGNAL_AT=<when>[:TERM|INT|KILL][@<rank>] raises that signal (TERM by default) in
// the process itself (only in rank <rank> of a data-parallel run, when given) at <when>:
// "start" (right after the handlers are installed, before the corpus is read) or a step
// number (after that step, and its periodic checkpoint, completed).
class TestSignal {
 public:
  explicit TestSignal(int rank) {
    const char* spec = std::getenv("KILN_TEST_SIGNAL_AT");
    if (spec == nullptr) return;
    std::string text = spec;
    if (const std::size_t at = text.find('@'); at != std::string::npos) {
      if (std::atoi(text.c_str() + at + 1) != rank) return;
      text.resize(at);
    }
    const std::size_t colon = text.find(':');
    const std::string name = colon == std::string::npos ? "TERM" : text.substr(colon + 1);
    when_ = text.substr(0, colon);
    signal_ = name == "KILL" ? SIGKILL : name == "INT" ? SIGINT : SIGTERM;
  }
  void at(const std::string& when) const {
    if (signal_ != 0 && when == when_) std::raise(signal_);
  }

 private:
  std::string when_;
  int signal_ = 0;
};

}  // namespace

TrainResult train(const TrainOptions& options) {
  StopSignals stop;
  const dist::Communicator& comm = dist::Communicator::world();
  const TestSignal test_signal(comm.rank());
  test_signal.at("start");
  Progress progress(comm.is_root());
  Run run = prepare_run(options, progress, comm);
  const Config& config = run.config;
  Task& task = *run.task;
  nn::ParameterArena& arena = *run.arena;
  CheckpointState& state = run.state;
  // Rank 0 alone writes: metrics, plots, checkpoints and the progress line.
  std::optional<MetricsLog> metrics;
  if (comm.is_root()) metrics.emplace(config.run.out_dir, state.step);
  IntervalLog interval(metrics ? &*metrics : nullptr, progress, config.train.max_steps);
  progress.show(fmt::format(
      "model: {} parameters; training steps {} -> {} on {}", arena.size(), state.step,
      config.train.max_steps,
      comm.size() == 1 ? fmt::format("{} threads", num_threads())
                       : fmt::format("{} processes x {} threads", comm.size(), num_threads())));

  const int accum = config.train.grad_accum;
  TrainStep train_step(arena, *run.optimizer, comm,
                       plan_step(accum, config.train.batch_size, comm.rank(), comm.size()));
  TrainResult result;
  // Rank 0 writes; with sharded optimizer state the other ranks send it their slices.
  auto write_checkpoint = [&](const std::string& path) {
    if (!comm.is_root()) return train_step.serve_checkpoint();
    const OptimizerMoments moments = train_step.checkpoint_moments();
    save_checkpoint(path, arena, &moments, state);
  };
  auto save = [&] {
    result.last_checkpoint = checkpoint_path(config.run.out_dir, state.step);
    write_checkpoint(result.last_checkpoint);
    if (comm.is_root()) prune_checkpoints(config.run.out_dir, config.checkpoint.keep_last);
  };
  // Every rank evaluates all of the held-out data (so the numbers are one process's exactly);
  // rank 0 records them.
  auto evaluate = [&] {
    const Metrics m = task.evaluate();
    std::string line = fmt::format("step {}", state.step);
    for (const auto& [key, value] : m) {
      line += fmt::format(" {} {:.4f}", key, value);
      if (key == "val_loss") result.last_val_loss = value;
    }
    progress.show(line);
    if (comm.is_root()) {
      metrics->add({"eval", state.step, m});
      metrics->write_plot();
    }
    if (config.checkpoint.keep_best && result.last_val_loss < state.best_val_loss) {
      state.best_val_loss = result.last_val_loss;
      write_checkpoint((fs::path(config.run.out_dir) / "best.h5").string());
    }
  };

  const uint64_t dropout_seeds = derive_seed(config.run.seed, kDropoutStream);
  int64_t skipped_steps = 0;  // non-finite steps skipped by this process
  // All ranks stop at the same step: a signal seen by any of them stops every one.
  while (state.step < config.train.max_steps && !comm.any(stop.signal() != 0)) {
    const double lr = run.schedule.lr(state.step);
    const StepResult step = train_step.run(
        state.step,
        [&](int micro, Shard shard) {
          return task.train_loss(state.step, micro,
                                 derive_seed(dropout_seeds, state.step * accum + micro), shard);
        },
        config.train.grad_clip, lr);
    if (!step.finite) {
      // Nothing non-finite reached the parameters; stop before anything is saved, or skip
      // this batch when the config allows a few such steps.
      const std::string after =
          skipped_steps == 0 ? "" : fmt::format(" after skipping {} such steps", skipped_steps);
      KILN_CHECK(skipped_steps < config.train.skip_nonfinite_steps, "train: ", step.problem, after,
                 "; the run stopped without saving it (try a lower train.optimizer.lr, or "
                 "train.skip_nonfinite_steps)");
      progress.show(fmt::format("note: skipping {} ({} of at most {})", step.problem,
                                ++skipped_steps, config.train.skip_nonfinite_steps));
      state.step++;
      continue;
    }
    state.step++;
    state.tokens_seen += task.tokens_per_micro_batch() * accum;
    interval.add(step, train_step.plan().terms, task.tokens_per_micro_batch() * accum);

    const bool last = state.step == config.train.max_steps;
    if (config.log.every > 0 && (state.step % config.log.every == 0 || last))
      interval.report(state.step, lr, task.epochs_after(state.step));
    if (config.eval.every > 0 && state.step % config.eval.every == 0 && !last) evaluate();
    if (config.checkpoint.every > 0 && state.step % config.checkpoint.every == 0 && !last) save();
    test_signal.at(std::to_string(state.step));
  }
  progress.finish_line();
  // Another rank's signal stops this one too: report it as the SIGTERM mpirun forwards.
  result.interrupted = comm.any(stop.signal() != 0);
  result.stop_signal = !result.interrupted ? 0 : stop.signal() != 0 ? stop.signal() : SIGTERM;
  if (!result.interrupted) evaluate();
  save();
  result.final_step = state.step;
  progress.show((result.interrupted ? "interrupted; saved " : "done; saved ") +
                result.last_checkpoint);
  // How much of the resident peak was tensors: the rest is libraries and the heap's slack.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  progress.show(fmt::format("memory: peak {:.0f} MB resident, tensors at most {:.0f} MB",
                            double(usage.ru_maxrss) / 1024.0,
                            double(peak_tensor_bytes()) / (1 << 20)));
  return result;
}

}  // namespace kiln
