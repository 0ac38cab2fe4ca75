// The `kiln` command: builds the CLI11 app from the subcommands, and maps errors (kiln::Error
// and CLI11's parse errors) to a one-line message and a non-zero exit. The only place that exits.
#include <malloc.h>
#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "autograd/threads.h"
#include "base/error.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "dist/communicator.h"

namespace {

// The deepest subcommand given on the line ("kiln tokenizer encode"), for error messages.
CLI::App* chosen_command(CLI::App& kiln, std::string& name) {
  CLI::App* app = &kiln;
  name = "kiln";
  while (!app->get_subcommands().empty()) {
    app = app->get_subcommands().front();
    name += " " + app->get_name();
  }
  return app;
}

// CLI11's parse errors as kiln's one-line "kiln <cmd>: expected X, got Y" messages.
kiln::Error kiln_error(CLI::App& kiln, const CLI::ParseError& e) {
  std::string name;
  CLI::App* app = chosen_command(kiln, name);
  const std::string see = " (see '" + name + " --help')";
  if (dynamic_cast<const CLI::ExtrasError*>(&e) && !app->remaining().empty()) {
    const std::string extra = app->remaining().front();
    if (extra.rfind("-", 0) == 0)
      return kiln::Error(name + ": expected a known option" + see + ", got " + extra);
    auto subcommands = app->get_subcommands([](CLI::App*) { return true; });
    if (app == &kiln)
      return kiln::Error(name + ": expected a command" + see + ", got '" + extra + "'");
    if (!subcommands.empty()) {
      std::string names;
      for (std::size_t i = 0; i < subcommands.size(); ++i)
        names += (i == 0                        ? ""
                  : i + 1 == subcommands.size() ? " or "
                                                : ", ") +
                 subcommands[i]->get_name();
      return kiln::Error(name + ": expected " + names + see + ", got '" + extra + "'");
    }
    return kiln::Error(name + ": expected no more arguments" + see + ", got '" + extra + "'");
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e))
    for (const CLI::Option* opt : app->get_options())
      if (opt->get_required() && opt->count() == 0)
        return kiln::Error(name + ": expected " + opt->get_name(opt->get_positional()) + see +
                           ", got none");
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    const std::string what = e.what();
    return kiln::Error(name + ": expected a value after " + what.substr(0, what.find(':')) +
                       ", got the end of the line");
  }
  return kiln::Error(name + ": " + e.what());
}

int run(int argc, char** argv) {
  CLI::App kiln("Trains and runs Transformer language models on CPUs.", "kiln");
  kiln.formatter(kiln::cli::make_formatter());
  // A repeated option keeps its last value, as kiln always did (--set and FILE... keep all).
  kiln.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  kiln.footer("Run 'kiln <command> --help' for a command's options.");
  bool version = false;
  kiln.add_flag("--version", version, "print kiln's version and the thread count it would use");
  kiln::cli::add_train_command(kiln);
  kiln::cli::add_eval_command(kiln);
  kiln::cli::add_sample_command(kiln);
  kiln::cli::add_bench_command(kiln);
  kiln::cli::add_tokenizer_command(kiln);
  kiln::cli::add_embed_command(kiln);
  kiln::cli::add_classify_command(kiln);
  kiln::cli::add_import_hf_command(kiln);
  kiln::cli::add_export_hf_command(kiln);
  kiln::cli::add_forward_command(kiln);
  kiln::cli::add_translate_command(kiln);
  CLI::App* version_command =
      kiln.add_subcommand("version", "print kiln's version and the thread count it would use");
  if (argc < 2) {
    std::fputs(kiln.help().c_str(), stderr);
    return 2;
  }
  try {
    kiln.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(kiln.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(kiln.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return 0;
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own exit code, e.g. 130 after Ctrl-C
  } catch (const CLI::ParseError& e) {
    throw kiln_error(kiln, e);
  }
  if (version || version_command->parsed()) {
    std::printf("kiln 0.1.0 (threads: %d)\n", kiln::num_threads());
    return 0;
  }
  return 0;
}

// With OMP_PROC_BIND or OMP_PLACES set, libgomp binds the initial thread to the first place
// as it loads, and an exec'd process inherits that thread's CPUs: restarting as it was left
// `OMP_PROC_BIND=true kiln ...` with one thread (or, with OMP_NUM_THREADS=2, both on one core:
// gpt-mini 2,900 -> 1,450 tok/s on 2 cores). So before the restart the process gets back the
// CPUs of every place, which libgomp made from those it was allowed: a `taskset` still holds.
void unbind_initial_thread() {
  const int places = omp_get_num_places();
  if (places <= 0 || omp_get_proc_bind() == omp_proc_bind_false) return;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  for (int place = 0; place < places; ++place) {
    std::vector<int> ids(static_cast<std::size_t>(omp_get_place_num_procs(place)));
    omp_get_place_proc_ids(place, ids.data());
    for (int id : ids)
      if (id >= 0 && id < CPU_SETSIZE) CPU_SET(id, &cpus);
  }
  sched_setaffinity(0, sizeof cpus, &cpus);  // on failure the restart keeps the first place
}

// libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it loads, so they cannot be
// changed from main(). Busy-waiting workers cost kiln up to 20x on a shared 2-core machine (a
// descheduled thread holds up a spinning one at every barrier), so unless the user chose a
// policy, restart once with the passive one, as ../shared/bench/torch_reference.py does for
// PyTorch, but spinning 1000 times before sleeping: a small model's step is a run of short
// parallel regions, and a worker asleep in the kernel between them costs a futex wake each.
// gpt-char bench, 2 threads, 2 runs each (Intel Xeon, 2026-12-06): idle 22.0k tok/s passive,
// 29.1k at 1000, 32.6k at 3000; with `yes` holding one core 17.1k, 15.8k and 13.0k. Large
// models do not notice (gpt-mini and bert-mini within noise over 4 alternating pairs).
void prefer_briefly_spinning_openmp_waiting(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  setenv("GOMP_SPINCOUNT", "1000", 0);  // a user's own count stays
  unbind_initial_thread();
  execv("/proc/self/exe", argv);  // returns only on failure; then carry on as we are
}

// glibc's policy for what kiln itself does not allocate. Tensors of 1 MB and more never come
// from malloc (autograd/allocator.cpp keeps its own cache of them, for the same reason glibc's
// policy is set here: a step frees and reallocates the same sizes each time, and memory handed
// back to the kernel is faulted in and zeroed again; bert-mini-kjv with tensors from malloc:
// page faults 1.41M -> 0.21M once the heap was no longer trimmed). So the heap is never trimmed.
// Blocks of 1 MB and more are mapped per use: what still asks malloc for them is mostly oneDNN's
// sgemm, for per-thread packing buffers of up to 8 MB that it frees after each call. Kept in
// the heap (the threshold was 64 MB), they left holes that the small long-lived blocks
// allocated between them pinned, and the heap grew to 66 MB on gpt-mini and 110 MB on
// gpt2-124m, nearly all of it free. At 1 MB: peak RSS gpt2-124m 2,637 -> 2,569 MB, gpt-mini
// 665 -> 642, bert-small 658 -> 647, for about 3,000 more page faults a step on gpt-mini and no
// change in step time beyond the machine's noise (2 alternating pairs each, 2026-12-07, AMD
// Zen 4). Batches of varying shape (translation's) had left 64 MB+ blocks as heap holes too
// (peak RSS 2,639 -> 1,310 MB when those were first mapped per use).
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

}  // namespace

int main(int argc, char** argv) {
  prefer_briefly_spinning_openmp_waiting(argv);
  keep_freed_memory();
  // Under mpirun a failing rank must end the whole job, or the others would wait for it.
  const kiln::dist::Communicator& comm = kiln::dist::Communicator::world();
  auto fail = [&](int code) {
    if (comm.size() > 1) comm.abort(code);
    return code;
  };
  try {
    return run(argc, argv);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return fail(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return fail(3);
  }
}
