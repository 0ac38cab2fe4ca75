// kiln bench: times GPT training steps on synthetic tokens with the same flags and JSON
// fields as ../shared/bench/torch_reference.py, so the two compare line by line.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "base/rng.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "nn/adamw.h"
#include "nn/gpt.h"
#include "nn/parameter_arena.h"

namespace kiln::cli {
namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

}  // namespace

int bench_command(int argc, char** argv) {
  Args args("bench", argc, argv,
            {"model", "vocab-size", "n-layer", "n-head", "d-model", "d-ff", "max-pos", "seq-len",
             "batch-size", "steps", "warmup-steps", "threads", "seed", "lr", "weight-decay",
             "beta1", "beta2", "eps", "grad-clip"});
  if (args.help()) {
    std::puts(
        "usage: kiln bench [--model gpt] [--vocab-size 65 --n-layer 4 --n-head 4 --d-model 128 "
        "--d-ff 4d\n"
        "                  --seq-len 64 --batch-size 12 --steps 20 --warmup-steps 3 --threads 2 "
        "--seed 1337\n"
        "                  --lr 3e-4 --weight-decay 0.1 --beta1 0.9 --beta2 0.95 --eps 1e-8 "
        "--grad-clip 1.0]\n"
        "\n"
        "Times full training steps (zero grad, forward, backward, clip, AdamW) on random tokens "
        "and\n"
        "prints one JSON line with the fields of ../shared/bench/torch_reference.py.");
    return 0;
  }
  KILN_CHECK(args.get("model", "gpt") == "gpt", "kiln bench: --model: expected gpt, got ",
             args.get("model"));
  nn::GptConfig c;
  c.vocab_size = args.get_int("vocab-size", 65);
  c.n_layer = args.get_int("n-layer", 4);
  c.n_head = args.get_int("n-head", 4);
  c.d_model = args.get_int("d-model", 128);
  c.d_ff = args.get_int("d-ff", 4 * c.d_model);
  const int T = static_cast<int>(args.get_int("seq-len", 64)),
            B = static_cast<int>(args.get_int("batch-size", 12));
  c.max_seq_len = args.get_int("max-pos", T);
  const int steps = static_cast<int>(args.get_int("steps", 20)),
            warmup = static_cast<int>(args.get_int("warmup-steps", 3));
  const int threads = static_cast<int>(args.get_int("threads", 2));
  const uint64_t seed = static_cast<uint64_t>(args.get_int("seed", 1337));
  const float lr = static_cast<float>(args.get_double("lr", 3e-4)),
              clip = static_cast<float>(args.get_double("grad-clip", 1.0));
  KILN_CHECK(steps >= 1 && warmup >= 0,
             "kiln bench: expected --steps >= 1 and --warmup-steps >= 0, got ", steps, " and ",
             warmup);
  set_num_threads(threads);

  nn::Gpt model(c, seed);
  nn::ParameterArena arena(model);
  nn::AdamW optimizer(
      arena, {float(args.get_double("beta1", 0.9)), float(args.get_double("beta2", 0.95)),
              float(args.get_double("eps", 1e-8)), float(args.get_double("weight-decay", 0.1))});
  // A few distinct batches, made before timing starts (as the reference does).
  std::vector<std::pair<Tensor, Tensor>> batches;
  for (int b = 0; b < std::min(4, warmup + steps); ++b) {
    std::vector<int32_t> ids(static_cast<std::size_t>(B) * (T + 1));
    for (std::size_t i = 0; i < ids.size(); ++i)
      ids[i] =
          static_cast<int32_t>(random_bits(derive_seed(seed + 1, b), i) % uint64_t(c.vocab_size));
    std::vector<int32_t> inputs, targets;
    for (int r = 0; r < B; ++r) {
      inputs.insert(inputs.end(), ids.begin() + r * (T + 1), ids.begin() + r * (T + 1) + T);
      targets.insert(targets.end(), ids.begin() + r * (T + 1) + 1, ids.begin() + (r + 1) * (T + 1));
    }
    batches.emplace_back(Tensor::from_ints({B, T}, inputs), Tensor::from_ints({B, T}, targets));
  }

  std::vector<double> times;
  double loss_first = 0, loss_last = 0;
  for (int step = 0; step < warmup + steps; ++step) {
    auto start = std::chrono::steady_clock::now();
    arena.zero_grads();
    const auto& [inputs, targets] = batches[static_cast<std::size_t>(step) % batches.size()];
    Tensor loss = model.loss(inputs, targets, static_cast<uint64_t>(step));
    backward(loss);
    double norm = arena.grad_norm();
    if (clip > 0 && norm > clip) arena.scale_grads(static_cast<float>(clip / norm));
    optimizer.step(lr);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    (step == 0 ? loss_first : loss_last) = loss.item();
    if (step >= warmup) times.push_back(ms);
  }

  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  // Model FLOPs as torch_reference.py counts them: dense 6*N_nonemb, attention 12*L*T*d and
  // the tied head 6*d*V, all per token.
  int64_t params = 0, embedding = c.vocab_size * c.d_model + c.max_seq_len * c.d_model;
  for (const Tensor& p : model.parameters()) params += p.numel();
  const double tokens = double(B) * T;
  const double dense = 6.0 * double(params - embedding) * tokens;
  const double attention = 12.0 * c.n_layer * T * c.d_model * tokens;
  const double head = 6.0 * c.d_model * c.vocab_size * tokens;
  const double gflop = (dense + attention + head) / 1e9;
  std::printf(
      "{\"model\": \"gpt\", \"vocab_size\": %lld, \"n_layer\": %lld, \"n_head\": %lld, "
      "\"d_model\": %lld, \"d_ff\": "
      "%lld, \"seq_len\": %d, \"batch_size\": %d, \"steps\": %d, \"warmup_steps\": %d, "
      "\"threads\": %d, "
      "\"step_ms_median\": %.2f, \"step_ms_min\": %.2f, \"tokens_per_s\": %.1f, \"peak_rss_mb\": "
      "%.1f, "
      "\"model_gflop_per_step\": %.4f, \"achieved_gflops\": %.2f, \"n_params\": %lld, "
      "\"loss_first\": %.4f, "
      "\"loss_last\": %.4f, \"framework\": \"kiln\"}\n",
      (long long)c.vocab_size, (long long)c.n_layer, (long long)c.n_head, (long long)c.d_model,
      (long long)c.d_ff, T, B, steps, warmup, threads, median, sorted.front(),
      tokens / (median / 1e3), peak_rss_mb(), gflop, gflop / (median / 1e3), (long long)params,
      loss_first, loss_last);
  return 0;
}

}  // namespace kiln::cli
