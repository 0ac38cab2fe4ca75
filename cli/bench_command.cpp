// kiln bench: times training steps on synthetic data with the same flags and JSON fields as
// ../shared/bench/torch_reference.py, so the two compare line by line (compare.sh).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "autograd/allocator.h"
#include "autograd/gemm.h"
#include "autograd/profile.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "base/rng.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "io/json.h"
#include "nn/adamw.h"
#include "nn/bert.h"
#include "nn/gpt.h"
#include "nn/marian.h"
#include "nn/parameter_arena.h"
#include "train/bench_generate.h"
#include "train/bench_workloads.h"
#include "train/config.h"
#include "train/train_step.h"

namespace kiln::cli {
namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

struct BenchOptions {
  std::string kind = "gpt";
  long long vocab = 65, layers = 4, heads = 4, d = 128, d_ff = 0, positions = 0, T = 64, B = 12;
  long long steps = 20, warmup = 3, threads = 2, seed = 1337;
  long long src_len = 0, tgt_len = 0;  // marian; 0 = --seq-len
  double label_smoothing = 0.1;        // marian
  double lr = 3e-4, weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, clip = 1.0;
  double peak_gflops = 0;  // the MFU denominator; 0 = measure it on this step's GEMMs
  bool profile = false;
  std::string precision = "fp32";  // or bf16 (mixed, as the reference's --autocast bf16)
  bool generate = false, check_uncached = false;  // --generate: time KV-cached decoding
  long long prompt_len = 32, new_tokens = 200;
};

void run_bench(const BenchOptions& o);
void run_generate_bench(const BenchOptions& o);

}  // namespace

void add_bench_command(CLI::App& kiln) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* bench =
      kiln.add_subcommand("bench", "time training steps on synthetic data (compare with PyTorch)");
  bench->add_option("--model", o->kind, "the model family")
      ->type_name("gpt|bert|marian")
      ->check(one_of({"gpt", "bert", "marian"}));
  const auto size = [&](const char* name, long long& value, const char* what, long long low) {
    return bench->add_option(name, value, what)->type_name("N")->check(integer_in(low));
  };
  size("--vocab-size", o->vocab, "vocabulary size", 1);
  size("--n-layer", o->layers, "Transformer blocks", 1);
  size("--n-head", o->heads, "attention heads", 1);
  size("--d-model", o->d, "model width", 1);
  size("--d-ff", o->d_ff, "feed-forward width", 1)->default_str("4 d-model");
  size("--max-pos", o->positions, "position embeddings", 1)->default_str("seq-len");
  size("--seq-len", o->T, "tokens a sequence", 8);
  size("--batch-size", o->B, "sequences a step", 1);
  size("--steps", o->steps, "timed steps", 1);
  size("--warmup-steps", o->warmup, "untimed steps first", 0);
  size("--threads", o->threads, "compute threads", 1);
  size("--src-len", o->src_len, "marian: source tokens a pair", 2)->default_str("seq-len");
  size("--tgt-len", o->tgt_len, "marian: target tokens a pair", 2)->default_str("seq-len");
  bench->add_option("--seed", o->seed, "seed of the weights and the data")->check(any_integer());
  const auto number = [&](const char* name, double& value, const char* what) {
    bench->add_option(name, value, what)
        ->type_name("X")
        ->check(finite_number([](double) { return true; }, "a finite number"));
  };
  number("--lr", o->lr, "AdamW learning rate");
  number("--weight-decay", o->weight_decay, "AdamW weight decay");
  number("--beta1", o->beta1, "AdamW beta1");
  number("--beta2", o->beta2, "AdamW beta2");
  number("--eps", o->eps, "AdamW epsilon");
  number("--grad-clip", o->clip, "clip the gradient's global norm to this");
  number("--label-smoothing", o->label_smoothing, "marian: label smoothing epsilon");
  bench
      ->add_option("--peak-gflops", o->peak_gflops,
                   "the GEMM rate MFU is measured against (default: probe this step's GEMMs)")
      ->type_name("X")
      ->check(finite_number([](double x) { return x >= 0; }, "a number >= 0"));
  bench
      ->add_option("--precision", o->precision,
                   "GEMM precision: bf16 rounds operands to bfloat16, accumulates in fp32 "
                   "(compare with the reference's --autocast bf16)")
      ->type_name("fp32|bf16")
      ->check(one_of({"fp32", "bf16"}));
  bench->add_flag("--profile", o->profile,
                  "print where a step's time goes (per op, per GEMM shape, optimizer) to stderr");
  bench->add_flag("--generate", o->generate,
                  "gpt: time KV-cached greedy decoding instead of training steps");
  size("--prompt-len", o->prompt_len, "--generate: prompt tokens a sequence", 1);
  size("--new-tokens", o->new_tokens, "--generate: tokens generated a sequence", 1);
  bench->add_flag("--check-uncached", o->check_uncached,
                  "--generate: also decode sequence 0 without the cache and compare the tokens");
  bench->footer(
      "Times full training steps (zero grad, forward, backward, clip, AdamW) on synthetic batches\n"
      "(GPT: random next-token data; BERT: [CLS] A [SEP] B [SEP] with 15% masked positions) and\n"
      "prints one JSON line with the fields of ../shared/bench/torch_reference.py. kiln's BERT\n"
      "applies the MLM decoder only at masked positions; model_gflop_per_step counts FLOPs the\n"
      "reference's way (decoder at every position) so that the two lines stay comparable.\n"
      "marian: --n-layer encoder and decoder layers each, sentence pairs of --src-len source and\n"
      "--tgt-len target tokens (--max-pos defaults to the longer); compare with\n"
      "bench/torch_marian_bench.py on the same flags. Under mpirun each rank computes one\n"
      "micro-batch of --batch-size and rank 0 reports the global tokens/s.\n"
      "mfu is kiln's model FLOPs per second (BERT's MLM head at masked positions only) over\n"
      "gemm_gflops, the rate kiln's GEMMs attain on this step's weight shapes: after the timed\n"
      "steps, --steps more steps each followed by a probe round, mfu the median of the pairs\n"
      "(mfu_pairs: each pair's, in order; empty with --peak-gflops).");
  bench->callback([o] {
    KILN_CHECK(o->precision == "fp32" || cpu_supports_bf16(),
               "kiln bench --precision bf16: ", kBf16CpuRequirement);
    set_matmul_precision(o->precision == "bf16" ? MatmulPrecision::kBf16 : MatmulPrecision::kF32);
    o->generate ? run_generate_bench(*o) : run_bench(*o);
  });
}

namespace {

// The profile as a table on stderr: milliseconds a step per entry, its share of the median
// step, and for GEMMs their rate. GEMM time is also inside the ops that issued them.
void print_profile(int steps, double step_ms) {
  const std::vector<profile::Entry> entries = profile::entries();
  std::string section;
  double section_ms = 0;
  const auto close_section = [&] {
    if (!section.empty())
      fmt::print(stderr, "  {:<44} {:>9.2f} ms {:>6.1f}%\n", "total", section_ms,
                 100 * section_ms / step_ms);
  };
  fmt::print(stderr, "profile: {} steps, median step {:.1f} ms\n", steps, step_ms);
  for (const profile::Entry& e : entries) {
    if (e.section != section) {
      close_section();
      section = e.section, section_ms = 0;
      fmt::print(stderr, "{}{}\n", e.section,
                 e.section == "gemm" ? " (shape M x N x K; also counted in its op above)" : "");
    }
    const double ms = 1e3 * e.seconds / steps;
    section_ms += ms;
    fmt::print(stderr, "  {:<44} {:>9.2f} ms {:>6.1f}% {:>7.1f} calls", e.name, ms,
               100 * ms / step_ms, double(e.calls) / steps);
    if (e.flops > 0) fmt::print(stderr, " {:>7.1f} GFLOP/s", e.flops / e.seconds / 1e9);
    fmt::print(stderr, "\n");
  }
  close_section();
}

// Decoding, memory-bound: each step reads every weight and the cache so far, so the report
// sets the bytes a step reads against the machine's read bandwidth.
void run_generate_bench(const BenchOptions& o) {
  KILN_CHECK(o.kind == "gpt", "kiln bench --generate: expected --model gpt, got ", o.kind);
  const int64_t positions = o.positions > 0 ? o.positions : o.prompt_len + o.new_tokens;
  nn::GptConfig c{o.vocab,   o.layers, o.heads, o.d, o.d_ff > 0 ? o.d_ff : 4 * o.d,
                  positions, 0.0f,     1e-5f};
  set_num_threads(static_cast<int>(o.threads));
  nn::Gpt model(c, static_cast<uint64_t>(o.seed));
  model.train(false);
  const uint64_t seed = static_cast<uint64_t>(o.seed) + 1;
  bench_generate(model, o.B, o.prompt_len, std::min<long long>(o.new_tokens, 8), seed);  // warm
  const GenerateBenchResult r = bench_generate(model, o.B, o.prompt_len, o.new_tokens, seed);
  const double rss = peak_rss_mb();  // before the bandwidth probe's 512 MB buffer
  const double bandwidth = measured_read_bandwidth_gbs();
  const double bytes = r.weight_bytes + r.cache_bytes;
  const auto rounded = [](double x, double scale) { return std::round(x * scale) / scale; };
  json::Writer out = json::Writer::spaced();
  out.begin_object().key("model").string("gpt").key("mode").string("generate");
  out.key("vocab_size").integer(o.vocab).key("n_layer").integer(o.layers);
  out.key("n_head").integer(o.heads).key("d_model").integer(o.d);
  out.key("batch_size").integer(o.B).key("prompt_len").integer(o.prompt_len);
  out.key("new_tokens").integer(o.new_tokens).key("threads").integer(o.threads);
  out.key("precision").string(o.precision);
  out.key("prefill_ms").number(rounded(r.prefill_ms, 1e2));
  out.key("ms_per_step_median").number(rounded(r.decode_ms_per_token, 1e3));
  out.key("tokens_per_s").number(rounded(r.tokens_per_s, 1e1));
  out.key("weight_mb_per_step").number(rounded(r.weight_bytes / 1e6, 1e1));
  out.key("cache_mb_per_step").number(rounded(r.cache_bytes / 1e6, 1e1));
  out.key("read_bandwidth_gbs").number(rounded(bandwidth, 1e1));
  out.key("bandwidth_fraction")
      .number(rounded(bytes / (r.decode_ms_per_token / 1e3) / 1e9 / bandwidth, 1e3));
  out.key("peak_rss_mb").number(rounded(rss, 1e1));
  if (o.check_uncached) {
    const bool same = uncached_first_row(model, o.prompt_len, o.new_tokens, seed) == r.first_row;
    out.key("tokens_match_uncached").boolean(same);
  }
  out.key("framework").string("kiln");
  std::printf("%s\n", out.end_object().text().c_str());
}

void run_bench(const BenchOptions& o) {
  const std::string& kind = o.kind;  // checked by --model's one_of: a known arch name
  const Arch arch = parse_arch(kind).value_or(Arch::kGpt);
  BenchShape s;
  s.vocab = o.vocab, s.layers = o.layers, s.heads = o.heads, s.d = o.d;
  s.d_ff = o.d_ff > 0 ? o.d_ff : 4 * s.d;
  s.T = static_cast<int>(o.T);
  s.B = static_cast<int>(o.B);
  s.S = static_cast<int>(o.src_len > 0 ? o.src_len : o.T);
  s.T_dec = static_cast<int>(o.tgt_len > 0 ? o.tgt_len : o.T);
  s.label_smoothing = static_cast<float>(o.label_smoothing);
  s.positions = o.positions > 0         ? o.positions
                : arch == Arch::kMarian ? std::max(s.S, s.T_dec)
                                        : s.T;
  const int steps = static_cast<int>(o.steps), warmup = static_cast<int>(o.warmup);
  const int threads = static_cast<int>(o.threads);
  const uint64_t seed = static_cast<uint64_t>(o.seed);
  const float lr = static_cast<float>(o.lr), clip = static_cast<float>(o.clip);
  set_num_threads(threads);

  // A few distinct batches, made before timing starts (as the reference does).
  const int batches = std::min(4, warmup + steps);
  Workload w = arch == Arch::kGpt    ? gpt_workload(s, seed, batches)
               : arch == Arch::kBert ? bert_workload(s, seed, batches)
                                     : marian_workload(s, seed, batches);
  nn::ParameterArena arena(*w.model, w.frozen);
  nn::AdamW optimizer(arena, {float(o.beta1), float(o.beta2), float(o.eps), float(o.weight_decay)});
  // Under mpirun each of the N ranks computes one micro-batch of the step: N times the
  // tokens of one process, summed by the same all-reduce as in training.
  const dist::Communicator& comm = dist::Communicator::world();
  const int ranks = comm.size();
  TrainStep train_step(arena, optimizer, comm, plan_step(ranks, s.B, comm.rank(), ranks));
  // One training step on every rank, and its wall time.
  struct TimedStep {
    StepResult r;
    double seconds;
  };
  const auto timed_step = [&](int step) {
    comm.barrier();  // every rank starts the step together, so the time is the slowest's
    const auto start = std::chrono::steady_clock::now();
    const StepResult r = train_step.run(
        step,
        [&](int micro, Shard) {
          return TrainLoss{w.loss(step * ranks + micro, static_cast<uint64_t>(step)), {}};
        },
        clip, lr);
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    KILN_CHECK(r.finite, "kiln bench: ", r.problem);
    return TimedStep{r, seconds.count()};
  };
  std::vector<double> times, comm_times;
  double loss_first = 0, loss_last = 0;
  for (int step = 0; step < warmup + steps; ++step) {
    if (o.profile && step == warmup) profile::enable(true);
    const auto [r, seconds] = timed_step(step);
    (step == 0 ? loss_first : loss_last) = r.loss;
    if (step >= warmup) {
      times.push_back(1e3 * seconds);
      comm_times.push_back(1e3 * r.comm_seconds);
    }
  }
  profile::enable(false);
  const double rss = peak_rss_mb(), tensor_mb = double(peak_tensor_bytes()) / (1 << 20);
  // Model FLOP utilisation, from pairs of a step and a GEMM probe round timed right after it:
  // on a shared machine the rate moves by tens of percent from one second to the next, and a
  // pair sees one machine. Its matrices come after the training steps' peak RSS is read.
  std::vector<double> step_seconds, probe_rates;
  if (o.peak_gflops <= 0) {
    std::optional<GemmProbe> probe;
    if (comm.is_root()) probe.emplace(w.linears);
    // The probe's matrices took blocks the step had freed to kiln's allocator: one untimed step
    // maps the step's own again, so the first pair does not time page faults.
    timed_step(warmup + steps);
    for (int pair = 0; pair < steps; ++pair) {
      step_seconds.push_back(timed_step(warmup + steps + 1 + pair).seconds);
      if (probe) probe_rates.push_back(probe->round());
    }
  }
  if (!comm.is_root()) return;  // rank 0 reports
  auto median_of = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  const double median = median_of(times);
  std::sort(times.begin(), times.end());
  // Model FLOPs as torch_reference.py counts them: dense 6 N_nonembedding per token,
  // attention 12 L T d per token, the head 6 d V per token, and per-sequence layers 6 N.
  int64_t params = 0;
  for (const Tensor& p : w.model->parameters()) params += p.numel();
  const double tokens = double(s.B) * s.T * ranks;  // the step's, over all ranks
  const double dense = 6.0 * double(params - w.embedding_params - w.per_sequence_params) * tokens;
  const double attention = 12.0 * double(s.layers) * s.T * double(s.d) * tokens;
  const double head = 6.0 * double(s.d) * double(s.vocab) * tokens;
  const double per_sequence = 6.0 * double(w.per_sequence_params) * s.B * ranks;
  // A workload that counts its own FLOPs and tokens (marian) gives them per rank.
  const double gflop =
      w.gflop > 0 ? w.gflop * ranks : (dense + attention + head + per_sequence) / 1e9;
  const double step_tokens = w.tokens > 0 ? w.tokens * ranks : tokens;
  // kiln's own FLOPs: BERT's MLM head runs at the masked rows only.
  const double head_skipped =
      w.head_rows > 0 ? 6.0 * double(s.d) * double(s.vocab) * (tokens - double(w.head_rows) * ranks)
                      : 0.0;
  const double kiln_gflop = gflop - head_skipped / 1e9;
  double peak = o.peak_gflops, mfu = 0;
  std::vector<double> utilisations;  // each pair's, in order: how much the figure can move
  if (peak > 0) {
    mfu = kiln_gflop / (median / 1e3) / peak;
  } else {  // each pair's utilisation, and the median: a slow spell spoils a pair, not the figure
    for (std::size_t i = 0; i < probe_rates.size(); ++i)
      utilisations.push_back(kiln_gflop / step_seconds[i] / probe_rates[i]);
    peak = median_of(probe_rates);
    mfu = median_of(utilisations);
  }
  // Rounded as a person reads them; the JSON writer prints the shortest exact form.
  const auto rounded = [](double x, double scale) { return std::round(x * scale) / scale; };
  json::Writer out = json::Writer::spaced();
  out.begin_object().key("model").string(kind).key("vocab_size").integer(s.vocab);
  out.key("n_layer").integer(s.layers).key("n_head").integer(s.heads).key("d_model").integer(s.d);
  out.key("d_ff").integer(s.d_ff).key("seq_len").integer(s.T).key("batch_size").integer(s.B);
  out.key("steps").integer(steps).key("warmup_steps").integer(warmup);
  out.key("threads").integer(threads).key("ranks").integer(ranks);
  out.key("precision").string(o.precision);
  out.key("step_ms_median").number(rounded(median, 1e2));
  out.key("step_ms_min").number(rounded(times.front(), 1e2));
  out.key("tokens_per_s").number(rounded(step_tokens / (median / 1e3), 1e1));
  out.key("comm_ms_median").number(rounded(median_of(comm_times), 1e2));
  out.key("peak_rss_mb").number(rounded(rss, 1e1));
  out.key("peak_tensor_mb").number(rounded(tensor_mb, 1e1));
  out.key("model_gflop_per_step").number(rounded(gflop, 1e4));
  out.key("achieved_gflops").number(rounded(gflop / (median / 1e3), 1e2));
  out.key("gemm_gflops").number(rounded(peak, 1e1));
  out.key("mfu").number(rounded(mfu, 1e3));
  out.key("mfu_pairs").begin_array();
  for (double u : utilisations) out.number(rounded(u, 1e3));
  out.end_array();
  out.key("n_params").integer(params);
  // A diverged run still reports its timings: its loss is null.
  for (auto [name, loss] : {std::pair{"loss_first", loss_first}, {"loss_last", loss_last}})
    std::isfinite(loss) ? out.key(name).number(rounded(loss, 1e4)) : out.key(name).null();
  out.key("framework").string("kiln");
  out.key("src_len").integer(arch == Arch::kMarian ? s.S : s.T);
  out.key("tgt_len").integer(arch == Arch::kMarian ? s.T_dec : s.T);
  std::printf("%s\n", out.end_object().text().c_str());
  if (o.profile) print_profile(steps, median);
}

}  // namespace

}  // namespace kiln::cli
