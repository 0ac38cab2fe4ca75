// prepare_run: from TrainOptions to a Run ready for its first (or next) step.
#include "train/run_setup.h"

#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "autograd/gemm.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "io/atomic_write.h"
#include "train/metrics.h"
#include "train/registry.h"
#include "train/train_step.h"

namespace kiln {
namespace fs = std::filesystem;
namespace {

nn::Schedule schedule_for(const Config& c) {
  const ScheduleConfig& s = c.train.schedule;
  nn::ScheduleKind kind = s.name == "cosine"   ? nn::ScheduleKind::kCosine
                          : s.name == "linear" ? nn::ScheduleKind::kLinear
                                               : nn::ScheduleKind::kConstant;
  return {kind, c.train.optimizer.lr, s.min_lr, s.warmup_steps, c.train.max_steps};
}

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? std::string("none") : out;
}

// The checkpoint --resume names: a path, or with "auto" the newest usable one in the run folder.
std::string resume_path_for(const TrainOptions& options, const Config& config, Progress& progress) {
  if (options.resume != "auto") return options.resume;
  const std::string& dir = config.run.out_dir;
  const auto found = find_latest_checkpoint(
      dir, [](const std::string& path) { load_model(path); },  // names, shapes, config, tokenizer
      [&](const std::string& path, const std::string& why) {
        progress.show("note: --resume auto: skipping " + path + ": " + why);
      });
  if (found) return *found;
  const std::vector<std::string> damaged = list_checkpoints(dir);
  KILN_CHECK(damaged.empty(), dir, ": expected a usable checkpoint to resume from, got ",
             damaged.size(), " damaged ones (newest ", damaged.front(),
             "); move them away or start over with --overwrite");
  return "";
}

// A fresh run must not mix its files with another run's.
void claim_run_folder(const Config& config, bool overwrite, Progress& progress) {
  const std::string& dir = config.run.out_dir;
  const std::vector<std::string> existing = list_checkpoints(dir);
  const fs::path best = fs::path(dir) / "best.h5";
  if (existing.empty() && !fs::exists(best)) return;
  KILN_CHECK(overwrite, dir, ": expected a run folder without checkpoints for a fresh run, got ",
             existing.empty() ? best.string() : existing.front(),
             "; continue it with --resume auto, choose another run.name, or pass --overwrite "
             "to delete that run's files first");
  for (const std::string& path : existing) fs::remove(path);
  for (const char* name : {"best.h5", "metrics.jsonl", "loss.svg", "config.yaml"})
    fs::remove(fs::path(dir) / name);
  progress.show("note: --overwrite: removed the previous run's checkpoints and metrics in " + dir);
}

// Threads per process when run.threads is 0: the cores this process may use when mpirun bound
// it to some, else the host's cores shared among the processes on the host.
int default_threads(const dist::Communicator& comm) {
  if (comm.size() == 1) return num_threads();  // as kiln always did: every core it may use
  cpu_set_t mask;
  CPU_ZERO(&mask);
  const int allowed = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : 0;
  const int host = static_cast<int>(std::thread::hardware_concurrency());
  if (allowed > 0 && allowed < host) return allowed;
  return std::max(1, host / comm.local_size());
}

// FNV-1a over the parameter bytes: equal on every rank when they start alike.
uint64_t parameter_hash(const nn::ParameterArena& arena) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(arena.values().data());
  uint64_t h = 0xcbf29ce484222325ull;
  for (int64_t i = 0; i < arena.size() * int64_t{sizeof(float)}; ++i)
    h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace

Run prepare_run(const TrainOptions& options, Progress& progress, const dist::Communicator& comm) {
  Run run;
  run.config = load_config(options.config_path, options.overrides);
  const Config& config = run.config;
  // Refused before any file is touched; GEMMs follow the setting from here on.
  const bool bf16 = config.train.precision == "bf16";
  KILN_CHECK(!bf16 || cpu_supports_bf16(), options.config_path,
             ": train.precision bf16: ", kBf16CpuRequirement);
  set_matmul_precision(bf16 ? MatmulPrecision::kBf16 : MatmulPrecision::kF32);

  // Resume: the checkpoint's config decides what is trained; the new one may only change
  // run length, evaluation, logging and checkpointing.
  std::optional<Checkpoint> checkpoint;
  const std::string resume_path = resume_path_for(options, config, progress);
  if (!resume_path.empty()) {
    checkpoint = load_checkpoint(resume_path);
    Config saved = parse_config(checkpoint->state.config_yaml, resume_path + ":/config");
    for (const std::string& key : check_resume(saved, config))
      progress.show("note: " + key + " changed from " + config_value(saved, key) + " to " +
                    config_value(config, key) + "; the run will differ from an uninterrupted one");
    for (const std::string& key : config_differences(saved, config))
      if (key_role(key) == KeyRole::kSchedule)
        progress.show("note: " + key + " is now " + config_value(config, key) + " (was " +
                      config_value(saved, key) + ")");
  } else if (comm.is_root()) {
    claim_run_folder(config, options.overwrite, progress);
  }
  KILN_CHECK(comm.same_everywhere(checkpoint ? uint64_t(checkpoint->state.step) + 1 : 0),
             "train: expected every process to resume from the same step, got different ones ",
             "(run.out_dir must be one shared folder, or the same files on every host)");
  // Plan the step now, so that a process count that fits neither grad_accum nor batch_size
  // is refused before any work.
  plan_step(config.train.grad_accum, config.train.batch_size, comm.rank(), comm.size());

  set_num_threads(config.run.threads > 0 ? config.run.threads : default_threads(comm));
  if (comm.is_root()) {
    std::error_code ec;
    fs::create_directories(config.run.out_dir, ec);
    KILN_CHECK(!ec, config.run.out_dir, ": expected to create the run folder, got ", ec.message());
    io::atomic_write((fs::path(config.run.out_dir) / "config.yaml").string(), to_yaml(config));
  }

  // Fine-tuning: weights and tokenizer from model.init_from, a fresh optimizer and schedule.
  std::optional<Checkpoint> init;
  if (!checkpoint && !config.model.init_from.empty())
    init = load_checkpoint(config.model.init_from);
  std::optional<std::string> tokenizer;
  if (checkpoint) tokenizer = checkpoint->state.tokenizer;
  if (init) tokenizer = init->state.tokenizer;
  // Rank 0 tokenises first and fills the token cache; the others then read it.
  if (!comm.is_root()) comm.barrier();
  run.task = make_task(config, tokenizer);
  if (comm.is_root()) comm.barrier();
  if (const std::string summary = run.task->data_summary(); !summary.empty())
    progress.show(summary);
  run.arena = std::make_unique<nn::ParameterArena>(run.task->model(), config.train.freeze);
  if (init) {
    // Lenient: a classifier started from a pretraining checkpoint has a new head and drops cls.*.
    RestoreReport report = restore_matching(*init, *run.arena);
    progress.show("initialised from " + config.model.init_from + " (step " +
                  std::to_string(init->state.step) + ")");
    if (!report.initialised.empty() || !report.unused.empty())
      progress.show("initialised: " + list_names(report.initialised) +
                    "; unused: " + list_names(report.unused));
  }
  const OptimizerConfig& o = config.train.optimizer;
  const nn::AdamWOptions adamw{float(o.betas[0]), float(o.betas[1]), float(o.eps),
                               float(o.weight_decay)};
  run.optimizer =
      config.train.shard_optimizer && comm.size() > 1
          ? std::make_unique<nn::AdamW>(
                *run.arena, adamw,
                TrainStep::optimizer_slice(run.arena->trainable_size(), comm.rank(), comm.size()))
          : std::make_unique<nn::AdamW>(*run.arena, adamw);
  if (checkpoint) {
    restore_checkpoint(*checkpoint, *run.arena, run.optimizer.get());
    run.state = checkpoint->state;
    progress.show("resumed from " + resume_path + " at step " + std::to_string(run.state.step));
  }
  KILN_CHECK(comm.size() == 1 || comm.same_everywhere(parameter_hash(*run.arena)),
             "train: expected every process to start from the same parameters, got different "
             "ones (the same config and seed on every rank, and one kiln build, give the same)");
  run.state.config_yaml = to_yaml(config);
  run.state.tokenizer = run.task->serialized_tokenizer();
  run.schedule = schedule_for(config);
  return run;
}

}  // namespace kiln
