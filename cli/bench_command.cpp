// kiln bench: times training steps on synthetic data with the same flags and JSON fields as
// ../shared/bench/torch_reference.py, so the two compare line by line (compare.sh).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

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
#include "train/train_step.h"

namespace kiln::cli {
namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

struct Shape {
  int64_t vocab, layers, heads, d, d_ff, positions;
  int T, B;
  int S = 0, T_dec = 0;  // marian: source and target lengths
  float label_smoothing = 0.0f;
};

// A model under test: its loss on synthetic batch `index`, and the FLOPs the reference counts.
struct Workload {
  std::unique_ptr<nn::Module> model;
  std::function<Tensor(int index, uint64_t seed)> loss;
  int64_t embedding_params = 0;     // excluded from the dense FLOP count, as the reference does
  int64_t per_sequence_params = 0;  // BERT pooler + NSP head: counted once per sequence
  double gflop = 0;                 // when set, the FLOPs per step (marian counts its own)
  double tokens = 0;                // when set, tokens per step (marian: source + target)
  std::vector<std::string> frozen;  // parameters the run does not train
};

uint32_t draw(uint64_t seed, uint64_t i, uint64_t n) {
  return static_cast<uint32_t>(random_bits(seed, i) % n);
}

// Next-token batches of random ids.
Workload gpt_workload(const Shape& s, uint64_t seed, int batches) {
  nn::GptConfig c{s.vocab, s.layers, s.heads, s.d, s.d_ff, s.positions, 0.0f, 1e-5f};
  auto model = std::make_unique<nn::Gpt>(c, seed);
  std::vector<std::pair<Tensor, Tensor>> data;
  for (int b = 0; b < batches; ++b) {
    std::vector<int32_t> inputs, targets;
    for (int r = 0; r < s.B; ++r)
      for (int t = 0; t < s.T; ++t) {
        uint64_t base = derive_seed(seed + 1, b), i = uint64_t(r) * (s.T + 1) + t;
        inputs.push_back(static_cast<int32_t>(draw(base, i, s.vocab)));
        targets.push_back(static_cast<int32_t>(draw(base, i + 1, s.vocab)));
      }
    data.emplace_back(Tensor::from_ints({s.B, s.T}, inputs),
                      Tensor::from_ints({s.B, s.T}, targets));
  }
  nn::Gpt* gpt = model.get();
  Workload w;
  w.loss = [gpt, data](int index, uint64_t dropout_seed) {
    const auto& [inputs, targets] = data[static_cast<std::size_t>(index) % data.size()];
    return gpt->loss(inputs, targets, dropout_seed);
  };
  w.embedding_params = s.vocab * s.d + s.positions * s.d;
  w.model = std::move(model);
  return w;
}

// [CLS] A [SEP] B [SEP] of random ids with round(0.15 n) masked positions a row and random
// NSP labels: the reference's synthetic batch (ids 0-4 special, as in its vocabulary).
Workload bert_workload(const Shape& s, uint64_t seed, int batches) {
  constexpr int32_t kCls = 2, kSep = 3, kMask = 4, kFirstNormal = 5;
  nn::BertConfig c;
  c.vocab_size = s.vocab, c.n_layer = s.layers, c.n_head = s.heads, c.d_model = s.d,
  c.d_ff = s.d_ff;
  c.max_position = s.positions;
  auto model = std::make_unique<nn::Bert>(c, seed);
  struct Batch {
    Tensor ids, types, labels, nsp;
  };
  std::vector<Batch> data;
  for (int b = 0; b < batches; ++b) {
    const uint64_t base = derive_seed(seed + 1, b);
    uint64_t counter = 0;
    std::vector<int32_t> ids(std::size_t(s.B) * s.T), types(ids.size(), 0),
        labels(ids.size(), -100), nsp;
    for (int r = 0; r < s.B; ++r) {
      int32_t* row = &ids[std::size_t(r) * s.T];
      for (int t = 0; t < s.T; ++t)
        row[t] = kFirstNormal + static_cast<int32_t>(draw(base, counter++, s.vocab - kFirstNormal));
      const int sep = s.T / 4 + static_cast<int>(draw(base, counter++, uint64_t(s.T / 2)));
      row[0] = kCls, row[sep] = kSep, row[s.T - 1] = kSep;
      for (int t = sep + 1; t < s.T; ++t) types[std::size_t(r) * s.T + t] = 1;
      std::vector<int> normal;
      for (int t = 1; t < s.T - 1; ++t)
        if (t != sep) normal.push_back(t);
      const int n_mask = std::max(1, static_cast<int>(0.15 * double(normal.size()) + 0.5));
      for (int k = 0; k < n_mask; ++k) {  // partial Fisher-Yates: the first n_mask of a shuffle
        std::swap(normal[k], normal[k + draw(base, counter++, normal.size() - k)]);
        labels[std::size_t(r) * s.T + normal[k]] = row[normal[k]];
        row[normal[k]] = kMask;
      }
      nsp.push_back(static_cast<int32_t>(draw(base, counter++, 2)));
    }
    data.push_back({Tensor::from_ints({s.B, s.T}, ids), Tensor::from_ints({s.B, s.T}, types),
                    Tensor::from_ints({s.B, s.T}, labels), Tensor::from_ints({s.B}, nsp)});
  }
  nn::Bert* bert = model.get();
  Workload w;
  w.loss = [bert, data](int index, uint64_t dropout_seed) {
    const Batch& b = data[static_cast<std::size_t>(index) % data.size()];
    return bert->pretraining_loss(b.ids, b.types, Tensor(), b.labels, b.nsp, dropout_seed).loss;
  };
  w.embedding_params = (s.vocab + s.positions + 2) * s.d;
  w.per_sequence_params = (s.d * s.d + s.d) + (2 * s.d + 2);  // pooler dense, NSP head
  w.model = std::move(model);
  return w;
}

// Sentence pairs of random ids (2..V-1), each side ending with eos (1), full length (no
// padding); decoder input = labels shifted right behind pad (0), as in training. FLOPs as
// bench/torch_marian_bench.py counts them.
Workload marian_workload(const Shape& s, uint64_t seed, int batches) {
  constexpr int32_t kPad = 0, kEos = 1;
  nn::MarianConfig c;
  c.vocab_size = s.vocab, c.d_model = s.d, c.encoder_layers = c.decoder_layers = s.layers;
  c.encoder_attention_heads = c.decoder_attention_heads = s.heads;
  c.encoder_ffn_dim = c.decoder_ffn_dim = s.d_ff;
  c.max_position_embeddings = s.positions;
  c.dropout = 0.0f;
  c.pad_token_id = kPad, c.eos_token_id = kEos;
  auto model = std::make_unique<nn::MarianMTModel>(c, seed);
  struct Batch {
    Tensor src, dec, labels;
  };
  std::vector<Batch> data;
  for (int b = 0; b < batches; ++b) {
    const uint64_t base = derive_seed(seed + 1, b);
    uint64_t counter = 0;
    std::vector<int32_t> src, dec, labels;
    for (int r = 0; r < s.B; ++r) {
      for (int t = 0; t < s.S; ++t)
        src.push_back(t == s.S - 1 ? kEos
                                   : 2 + static_cast<int32_t>(draw(base, counter++, s.vocab - 2)));
      for (int t = 0; t < s.T_dec; ++t)
        labels.push_back(
            t == s.T_dec - 1 ? kEos : 2 + static_cast<int32_t>(draw(base, counter++, s.vocab - 2)));
      dec.push_back(kPad);
      dec.insert(dec.end(), labels.end() - s.T_dec, labels.end() - 1);
    }
    data.push_back({Tensor::from_ints({s.B, s.S}, src), Tensor::from_ints({s.B, s.T_dec}, dec),
                    Tensor::from_ints({s.B, s.T_dec}, labels)});
  }
  nn::MarianMTModel* marian = model.get();
  Workload w;
  const float eps = s.label_smoothing;
  w.loss = [marian, data, eps](int index, uint64_t dropout_seed) {
    const Batch& b = data[static_cast<std::size_t>(index) % data.size()];
    return marian->loss(b.src, Tensor(), b.dec, b.labels, eps, dropout_seed);
  };
  // Per layer: attention 4 d^2 (+ cross 4 d^2 in the decoder), feed-forward 2 d d_ff.
  const double d = double(s.d), S = s.S, T = s.T_dec, B = s.B, L = double(s.layers);
  const double enc = L * (4 * d * d + 2 * d * double(s.d_ff));
  const double dec = L * (8 * d * d + 2 * d * double(s.d_ff));
  w.gflop = (6 * enc * S * B + 6 * dec * T * B + 6 * d * double(s.vocab) * T * B +
             12 * L * d * B * (S * S + T * T + T * S)) /
            1e9;
  w.tokens = B * (S + T);
  w.frozen = {"final_logits_bias"};  // a buffer in HF's Marian and in the PyTorch side
  w.model = std::move(model);
  return w;
}

struct BenchOptions {
  std::string kind = "gpt";
  long long vocab = 65, layers = 4, heads = 4, d = 128, d_ff = 0, positions = 0, T = 64, B = 12;
  long long steps = 20, warmup = 3, threads = 2, seed = 1337;
  long long src_len = 0, tgt_len = 0;  // marian; 0 = --seq-len
  double label_smoothing = 0.1;        // marian
  double lr = 3e-4, weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, clip = 1.0;
};

void run_bench(const BenchOptions& o);

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
  bench->footer(
      "Times full training steps (zero grad, forward, backward, clip, AdamW) on synthetic batches\n"
      "(GPT: random next-token data; BERT: [CLS] A [SEP] B [SEP] with 15% masked positions) and\n"
      "prints one JSON line with the fields of ../shared/bench/torch_reference.py. kiln's BERT\n"
      "applies the MLM decoder only at masked positions; model_gflop_per_step counts FLOPs the\n"
      "reference's way (decoder at every position) so that the two lines stay comparable.\n"
      "marian: --n-layer encoder and decoder layers each, sentence pairs of --src-len source and\n"
      "--tgt-len target tokens (--max-pos defaults to the longer); compare with\n"
      "bench/torch_marian_bench.py on the same flags. Under mpirun each rank computes one\n"
      "micro-batch of --batch-size and rank 0 reports the global tokens/s.");
  bench->callback([o] { run_bench(*o); });
}

namespace {

void run_bench(const BenchOptions& o) {
  const std::string& kind = o.kind;
  Shape s;
  s.vocab = o.vocab, s.layers = o.layers, s.heads = o.heads, s.d = o.d;
  s.d_ff = o.d_ff > 0 ? o.d_ff : 4 * s.d;
  s.T = static_cast<int>(o.T);
  s.B = static_cast<int>(o.B);
  s.S = static_cast<int>(o.src_len > 0 ? o.src_len : o.T);
  s.T_dec = static_cast<int>(o.tgt_len > 0 ? o.tgt_len : o.T);
  s.label_smoothing = static_cast<float>(o.label_smoothing);
  s.positions = o.positions > 0 ? o.positions : kind == "marian" ? std::max(s.S, s.T_dec) : s.T;
  const int steps = static_cast<int>(o.steps), warmup = static_cast<int>(o.warmup);
  const int threads = static_cast<int>(o.threads);
  const uint64_t seed = static_cast<uint64_t>(o.seed);
  const float lr = static_cast<float>(o.lr), clip = static_cast<float>(o.clip);
  set_num_threads(threads);

  // A few distinct batches, made before timing starts (as the reference does).
  const int batches = std::min(4, warmup + steps);
  Workload w = kind == "gpt"    ? gpt_workload(s, seed, batches)
               : kind == "bert" ? bert_workload(s, seed, batches)
                                : marian_workload(s, seed, batches);
  nn::ParameterArena arena(*w.model, w.frozen);
  nn::AdamW optimizer(arena, {float(o.beta1), float(o.beta2), float(o.eps), float(o.weight_decay)});
  // Under mpirun each of the N ranks computes one micro-batch of the step: N times the
  // tokens of one process, summed by the same all-reduce as in training.
  const dist::Communicator& comm = dist::Communicator::world();
  const int ranks = comm.size();
  TrainStep train_step(arena, optimizer, comm, plan_step(ranks, s.B, comm.rank(), ranks));
  std::vector<double> times, comm_times;
  double loss_first = 0, loss_last = 0;
  for (int step = 0; step < warmup + steps; ++step) {
    comm.barrier();  // every rank starts the step together, so the time is the slowest's
    auto start = std::chrono::steady_clock::now();
    const StepResult r = train_step.run(
        step,
        [&](int micro, Shard) {
          return TrainLoss{w.loss(step * ranks + micro, static_cast<uint64_t>(step)), {}};
        },
        clip, lr);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    KILN_CHECK(r.finite, "kiln bench: ", r.problem);
    (step == 0 ? loss_first : loss_last) = r.loss;
    if (step >= warmup) {
      times.push_back(ms);
      comm_times.push_back(1e3 * r.comm_seconds);
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
  // Rounded as a person reads them; the JSON writer prints the shortest exact form.
  const auto rounded = [](double x, double scale) { return std::round(x * scale) / scale; };
  json::Writer out = json::Writer::spaced();
  out.begin_object().key("model").string(kind).key("vocab_size").integer(s.vocab);
  out.key("n_layer").integer(s.layers).key("n_head").integer(s.heads).key("d_model").integer(s.d);
  out.key("d_ff").integer(s.d_ff).key("seq_len").integer(s.T).key("batch_size").integer(s.B);
  out.key("steps").integer(steps).key("warmup_steps").integer(warmup);
  out.key("threads").integer(threads).key("ranks").integer(ranks);
  out.key("step_ms_median").number(rounded(median, 1e2));
  out.key("step_ms_min").number(rounded(times.front(), 1e2));
  out.key("tokens_per_s").number(rounded(step_tokens / (median / 1e3), 1e1));
  out.key("comm_ms_median").number(rounded(median_of(comm_times), 1e2));
  out.key("peak_rss_mb").number(rounded(peak_rss_mb(), 1e1));
  out.key("model_gflop_per_step").number(rounded(gflop, 1e4));
  out.key("achieved_gflops").number(rounded(gflop / (median / 1e3), 1e2));
  out.key("n_params").integer(params);
  // A diverged run still reports its timings: its loss is null.
  for (auto [name, loss] : {std::pair{"loss_first", loss_first}, {"loss_last", loss_last}})
    std::isfinite(loss) ? out.key(name).number(rounded(loss, 1e4)) : out.key(name).null();
  out.key("framework").string("kiln");
  out.key("src_len").integer(kind == "marian" ? s.S : s.T);
  out.key("tgt_len").integer(kind == "marian" ? s.T_dec : s.T);
  std::printf("%s\n", out.end_object().text().c_str());
}

}  // namespace

}  // namespace kiln::cli
