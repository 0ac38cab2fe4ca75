// The table of config keys: each key's path, resume role, whether it is required, its rule
// and any derived default. To add a key: add the member in config.h, a row here, and a line
// in docs/config.md; parsing, validation, to_yaml and config_differences follow.
#include "train/config_schema.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "base/error.h"
#include "train/config_codec.h"
#include "train/config_limits.h"

namespace kiln {
namespace {

using config_codec::Codec;

// A constraint on a decoded value, with the words that complete "expected ...".
template <typename Ok>
struct Rule {
  std::string expected;
  Ok ok;
};
template <typename Ok>
Rule(std::string, Ok) -> Rule<Ok>;

auto any_value() {
  return Rule{"", [](const auto&) { return true; }};
}
auto int_at_least(int64_t low) {
  return Rule{"an integer >= " + std::to_string(low), [low](auto v) { return v >= low; }};
}
// [low, high]: sizes have an upper limit too, so no later product of them can overflow.
auto int_in(int64_t low, int64_t high) {
  return Rule{"an integer in [" + std::to_string(low) + ", " + std::to_string(high) + "]",
              [low, high](auto v) { return v >= low && v <= high; }};
}
auto number_at_least(double low) {
  return Rule{"a number >= " + config_codec::format_double(low),
              [low](double v) { return v >= low; }};
}
auto number_above(double low) {
  return Rule{"a number > " + config_codec::format_double(low),
              [low](double v) { return v > low; }};
}
auto fraction() {  // [0, 1): dropout, val_fraction, Adam betas
  return Rule{"a number in [0, 1)", [](double v) { return v >= 0.0 && v < 1.0; }};
}
auto one_of(std::initializer_list<const char*> names) {
  std::vector<std::string> choices(names.begin(), names.end());
  std::string expected = "one of";
  for (const std::string& c : choices) {
    expected += (c == choices[0] ? " " : ", ") + config_codec::quoted(c);
  }
  return Rule{expected, [choices](const std::string& v) {
                return std::find(choices.begin(), choices.end(), v) != choices.end();
              }};
}
auto non_empty_path() {
  return Rule{"a non-empty path", [](const std::string& v) { return !v.empty(); }};
}
// Every path non-empty; `at_least_one` also refuses an empty list.
auto path_list(bool at_least_one) {
  return Rule{at_least_one ? "a non-empty list of paths" : "a list of non-empty paths",
              [at_least_one](const std::vector<std::string>& v) {
                bool blank = std::any_of(v.begin(), v.end(), [](auto& p) { return p.empty(); });
                return !blank && !(at_least_one && v.empty());
              }};
}
auto non_empty_path_list() {
  return path_list(true);
}
auto optional_path_list() {
  return path_list(false);
}

// kRequiredUnlessMarian: required for the other archs; for marian, absent means derived.
enum Need { kRequired, kOptional, kRequiredUnlessMarian };

// The path as text and an accessor that works on Config& and const Config&; naming the
// member once keeps the YAML key and the C++ member from drifting apart.
#define KILN_KEY(member)          \
#member, [](auto& c) -> auto& { \
    return c.member;              \
  }

// One row of the table. `derive`, when given, computes the default from earlier keys.
template <typename Get, typename Ok, typename Derive = std::nullptr_t>
ConfigField field(const char* path, Get get, KeyRole role, Need need, Rule<Ok> rule,
                  Derive derive = nullptr) {
  using T = std::remove_cvref_t<decltype(get(std::declval<Config&>()))>;
  using C = Codec<T>;
  ConfigField f;
  f.path = path;
  f.role = role;
  f.required = need != kOptional;
  f.optional_for_marian = need == kRequiredUnlessMarian;
  f.read = [get](Config& c, const YAML::Node& node) -> std::string {
    if (C::decode(node, get(c))) return "";
    return std::string("expected ") + C::kNoun + ", got " + config_codec::describe(node);
  };
  f.write = [get](const Config& c) { return C::encode(get(c)); };
  f.show = [get](const Config& c) { return C::show(get(c)); };
  f.same = [get](const Config& a, const Config& b) { return get(a) == get(b); };
  f.check = [get, rule](const Config& c) -> std::string {
    if (rule.ok(get(c))) return "";
    return "expected " + rule.expected + ", got " + C::show(get(c));
  };
  if constexpr (!std::is_same_v<Derive, std::nullptr_t>) {
    f.derive = [get, derive](Config& c) { get(c) = derive(std::as_const(c)); };
  }
  return f;
}

// Label names also name folders and metrics (count_<label>), so they keep to a safe alphabet.
bool valid_label_names(const std::vector<std::string>& labels) {
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (it->empty() || *it == "." || *it == ".." || std::find(labels.begin(), it, *it) != it)
      return false;
    for (char ch : *it)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.')
        return false;
  }
  return true;
}

bool is_bert(const Config& c) {
  return kiln::is_bert(c.model.arch);
}

bool is_marian(const Config& c) {
  return c.model.arch == Arch::kMarian;
}

constexpr KeyRole kIdentity = KeyRole::kIdentity;
constexpr KeyRole kTrajectory = KeyRole::kTrajectory;
constexpr KeyRole kSchedule = KeyRole::kSchedule;

std::vector<ConfigField> make_fields() {
  auto run_name = Rule{"a non-empty name without '/'", [](const std::string& v) {
                         return !v.empty() && v.find('/') == std::string::npos;
                       }};
  auto vocab =
      Rule{"\"auto\" or an integer in [1, " + std::to_string(kMaxVocabulary) + "]",
           [](const std::optional<int>& v) { return !v || (*v >= 1 && *v <= kMaxVocabulary); }};
  auto betas = Rule{"two numbers in [0, 1)", [](const std::array<double, 2>& v) {
                      return v[0] >= 0 && v[0] < 1 && v[1] >= 0 && v[1] < 1;
                    }};
  auto label_names =
      Rule{"a list of distinct names of letters, digits, '_', '-' and '.'", valid_label_names};
  // clang-format off
  return {
    field(KILN_KEY(run.name),        kSchedule, kRequired, run_name),
    field(KILN_KEY(run.out_dir),     kSchedule, kOptional, non_empty_path(),
          [](const Config& c) { return "runs/" + c.run.name; }),
    field(KILN_KEY(run.seed),        kIdentity, kOptional, any_value()),
    field(KILN_KEY(run.threads),     kSchedule, kOptional, int_in(0, kMaxThreads)),

    field(KILN_KEY(data.train_files),  kIdentity, kRequired, non_empty_path_list()),
    field(KILN_KEY(data.val_files),    kIdentity, kOptional, optional_path_list()),
    field(KILN_KEY(data.val_fraction), kIdentity, kOptional, fraction()),
    field(KILN_KEY(data.format),       kIdentity, kOptional, one_of({"text", "jsonl", "folders"}),
          [](const Config& c) { return std::string(c.model.arch == Arch::kBertClassifier ? "jsonl" : "text"); }),
    field(KILN_KEY(data.labels),       kIdentity, kOptional, label_names),
    field(KILN_KEY(data.tokenizer),    kIdentity, kOptional, one_of({"char", "bpe", "wordpiece"}),
          [](const Config& c) { return std::string(is_bert(c) ? "wordpiece" : "char"); }),
    field(KILN_KEY(data.vocab_file),   kIdentity, kOptional, any_value()),
    field(KILN_KEY(data.merges_file),  kIdentity, kOptional, any_value()),
    field(KILN_KEY(data.tokenizer_vocab_size), kIdentity, kOptional, int_in(16, kMaxVocabulary)),
    field(KILN_KEY(data.lowercase),    kIdentity, kOptional, any_value()),
    field(KILN_KEY(data.max_word_chars), kIdentity, kOptional, int_at_least(1)),
    field(KILN_KEY(data.short_seq_prob),          kIdentity, kOptional, fraction()),
    field(KILN_KEY(data.max_predictions_per_seq), kIdentity, kOptional, int_in(1, kMaxPositions)),
    field(KILN_KEY(data.masked_lm_prob),          kIdentity, kOptional, fraction()),
    field(KILN_KEY(data.whole_word_masking),      kIdentity, kOptional, any_value()),
    field(KILN_KEY(data.dupe_factor),             kIdentity, kOptional, int_in(1, kMaxDupeFactor)),
    // Shapes only the held-out examples, not what training sees: like eval.batches.
    field(KILN_KEY(data.held_out_random_next),    kSchedule, kOptional, one_of({"corpus", "held_out"})),
    // Where the token cache lives, not what it holds: moving it changes nothing.
    field(KILN_KEY(data.cache_dir),    kSchedule, kOptional, non_empty_path(),
          [](const Config& c) { return c.run.out_dir + "/cache"; }),
    field(KILN_KEY(data.long_pairs),   kIdentity, kOptional, one_of({"truncate", "drop"})),

    field(KILN_KEY(model.init_from),      kIdentity, kOptional, any_value()),
    field(KILN_KEY(model.arch),           kIdentity, kOptional, any_value()),
    field(KILN_KEY(model.vocab_size),     kIdentity, kOptional, vocab),
    field(KILN_KEY(model.n_layer),        kIdentity, kRequired, int_in(1, kMaxLayers)),
    field(KILN_KEY(model.n_head),         kIdentity, kRequired, int_at_least(1)),
    field(KILN_KEY(model.d_model),        kIdentity, kRequired, int_in(1, kMaxModelWidth)),
    // 64-bit and clamped: derived before d_model's own check, which then names d_model.
    field(KILN_KEY(model.d_ff),           kIdentity, kOptional, int_in(1, kMaxFeedForward),
          [](const Config& c) {
            return static_cast<int>(std::clamp<int64_t>(4 * int64_t{c.model.d_model}, 1, kMaxFeedForward));
          }),
    field(KILN_KEY(model.max_seq_len),    kIdentity, kRequired, int_in(1, kMaxPositions)),
    field(KILN_KEY(model.dropout),        kIdentity, kOptional, fraction()),
    field(KILN_KEY(model.layer_norm_eps), kIdentity, kOptional, number_above(0),
          [](const Config& c) { return is_bert(c) ? 1e-12 : 1e-5; }),
    field(KILN_KEY(model.num_labels),     kIdentity, kOptional, int_at_least(0),
          [](const Config& c) {
            return c.model.arch == Arch::kBertClassifier ? static_cast<int>(c.data.labels.size()) : 0;
          }),
    field(KILN_KEY(model.decoder_layers), kIdentity, kOptional, int_at_least(0),
          [](const Config& c) { return is_marian(c) ? c.model.n_layer : 0; }),
    field(KILN_KEY(model.activation),     kIdentity, kOptional,
          one_of({"", "swish", "gelu", "gelu_new", "relu"}),
          [](const Config& c) { return std::string(is_marian(c) ? "swish" : ""); }),
    field(KILN_KEY(model.scale_embedding), kIdentity, kOptional, any_value()),

    field(KILN_KEY(train.batch_size),             kTrajectory, kRequiredUnlessMarian, int_in(1, kMaxBatch),
          [](const Config&) { return 1; }),
    field(KILN_KEY(train.seq_len),                kTrajectory, kRequiredUnlessMarian, int_at_least(1),
          [](const Config& c) { return c.model.max_seq_len; }),
    field(KILN_KEY(train.grad_accum),             kTrajectory, kOptional, int_in(1, kMaxBatch)),
    // With a decaying schedule max_steps also sets the decay horizon; see docs/config.md.
    field(KILN_KEY(train.max_steps),              kSchedule,   kRequired, int_at_least(1)),
    // The checkpoint holds this optimizer's moments, so another optimizer cannot resume.
    field(KILN_KEY(train.optimizer.name),         kIdentity,   kOptional, one_of({"adamw"})),
    field(KILN_KEY(train.optimizer.lr),           kTrajectory, kRequired, number_above(0)),
    field(KILN_KEY(train.optimizer.betas),        kTrajectory, kOptional, betas),
    field(KILN_KEY(train.optimizer.eps),          kTrajectory, kOptional, number_above(0)),
    field(KILN_KEY(train.optimizer.weight_decay), kTrajectory, kOptional, number_at_least(0)),
    field(KILN_KEY(train.schedule.name),          kTrajectory, kOptional,
          one_of({"constant", "cosine", "linear"})),
    field(KILN_KEY(train.schedule.warmup_steps),  kTrajectory, kOptional, int_at_least(0)),
    field(KILN_KEY(train.schedule.min_lr),        kTrajectory, kOptional, number_at_least(0)),
    field(KILN_KEY(train.grad_clip),              kTrajectory, kOptional, number_at_least(0)),
    // Marian's final_logits_bias is a zero buffer in HF, never trained: frozen by default.
    field(KILN_KEY(train.freeze),                 kIdentity,   kOptional, optional_path_list(),
          [](const Config& c) {
            return is_marian(c) ? std::vector<std::string>{"final_logits_bias"}
                                : std::vector<std::string>{};
          }),
    field(KILN_KEY(train.skip_nonfinite_steps),   kTrajectory, kOptional, int_at_least(0)),
    // Where the optimizer state lives, not what it is (sums differ only in rounding).
    field(KILN_KEY(train.shard_optimizer),        kTrajectory, kOptional, any_value()),
    field(KILN_KEY(train.batch_tokens),           kTrajectory, kOptional, int_in(0, kMaxBatch),
          [](const Config& c) { return is_marian(c) ? 3000 : 0; }),
    field(KILN_KEY(train.label_smoothing),        kTrajectory, kOptional, fraction()),
    field(KILN_KEY(train.precision),              kTrajectory, kOptional, one_of({"fp32", "bf16"})),

    field(KILN_KEY(eval.every),   kSchedule, kOptional, int_at_least(0)),
    field(KILN_KEY(eval.batches), kSchedule, kOptional, int_in(1, kMaxBatch)),
    field(KILN_KEY(eval.bleu_sentences), kSchedule, kOptional, int_in(0, kMaxBatch)),
    field(KILN_KEY(eval.beam),           kSchedule, kOptional, int_in(1, 64)),

    field(KILN_KEY(checkpoint.every),     kSchedule, kOptional, int_at_least(0)),
    field(KILN_KEY(checkpoint.keep_last), kSchedule, kOptional, int_at_least(1)),
    field(KILN_KEY(checkpoint.keep_best), kSchedule, kOptional, any_value()),

    field(KILN_KEY(log.every), kSchedule, kOptional, int_at_least(0)),
  };
  // clang-format on
}

#undef KILN_KEY

}  // namespace

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> fields = make_fields();
  return fields;
}

void throw_config_error(const std::string& where, const std::string& path,
                        const std::string& problem) {
  throw Error(where + path + ": " + problem);
}

void check_cross_fields(const Config& c, const ConfigWhere& where) {
  using config_codec::format_double;
  auto fail = [&](const std::string& path, const std::string& problem) {
    throw_config_error(where(path), path, problem);
  };
  // Heads split d_model evenly; n_head is the one to change, d_model sets the model's size.
  if (c.model.d_model % c.model.n_head != 0) {
    fail("model.n_head", "expected a divisor of model.d_model (" + std::to_string(c.model.d_model) +
                             "), got " + std::to_string(c.model.n_head));
  }
  // The position table has max_seq_len rows.
  if (c.train.seq_len > c.model.max_seq_len) {
    fail("train.seq_len", "expected at most model.max_seq_len (" +
                              std::to_string(c.model.max_seq_len) + "), got " +
                              std::to_string(c.train.seq_len));
  }
  if (c.train.schedule.warmup_steps > c.train.max_steps) {
    fail("train.schedule.warmup_steps", "expected at most train.max_steps (" +
                                            std::to_string(c.train.max_steps) + "), got " +
                                            std::to_string(c.train.schedule.warmup_steps));
  }
  if (c.train.schedule.min_lr > c.train.optimizer.lr) {
    fail("train.schedule.min_lr", "expected at most train.optimizer.lr (" +
                                      format_double(c.train.optimizer.lr) + "), got " +
                                      format_double(c.train.schedule.min_lr));
  }
  const std::string arch = arch_name(c.model.arch);
  if (c.model.arch == Arch::kGpt && c.data.tokenizer == "wordpiece") {
    fail("data.tokenizer", "expected \"char\" or \"bpe\" for model.arch gpt, got \"wordpiece\"");
  }
  if (c.data.tokenizer == "bpe" && c.data.vocab_file.empty() != c.data.merges_file.empty()) {
    fail(c.data.vocab_file.empty() ? "data.vocab_file" : "data.merges_file",
         "expected data.vocab_file and data.merges_file together (or neither, to train a BPE)");
  }
  if (is_bert(c) && c.data.tokenizer != "wordpiece") {
    fail("data.tokenizer",
         "expected \"wordpiece\" for model.arch " + arch + ", got \"" + c.data.tokenizer + "\"");
  }
  if (c.data.labels.size() > static_cast<size_t>(kMaxLabels)) {
    fail("data.labels", "expected at most " + std::to_string(kMaxLabels) + " labels, got " +
                            std::to_string(c.data.labels.size()));
  }
  const bool classifier = c.model.arch == Arch::kBertClassifier;
  if (classifier && c.data.labels.size() < 2) {
    fail("data.labels", "expected at least two label names for model.arch bert-classifier, got " +
                            std::to_string(c.data.labels.size()));
  }
  if (!classifier && !c.data.labels.empty()) {
    fail("data.labels", "expected no labels for model.arch " + arch +
                            " (labels are for bert-classifier), got " +
                            std::to_string(c.data.labels.size()));
  }
  const int labels = classifier ? static_cast<int>(c.data.labels.size()) : 0;
  if (c.model.num_labels != labels) {
    fail("model.num_labels",
         "expected " + std::to_string(labels) +
             (classifier ? " (the number of data.labels)" : " for model.arch " + arch) + ", got " +
             std::to_string(c.model.num_labels));
  }
  if (classifier == (c.data.format == "text")) {
    fail("data.format", classifier ? "expected \"jsonl\" or \"folders\" for model.arch "
                                     "bert-classifier, got \"text\""
                                   : "expected \"text\" for model.arch " + arch + ", got \"" +
                                         c.data.format + "\"");
  }
  // [CLS] A [SEP] B [SEP] needs at least one token each for A and B.
  if (c.model.arch == Arch::kBert && c.train.seq_len < 5) {
    fail("train.seq_len", "expected at least 5 for BERT ([CLS] A [SEP] B [SEP]), got " +
                              std::to_string(c.train.seq_len));
  }
  if (classifier && c.train.seq_len < 3) {
    fail("train.seq_len", "expected at least 3 for bert-classifier ([CLS] text [SEP]), got " +
                              std::to_string(c.train.seq_len));
  }
  const bool marian = is_marian(c);
  if (marian && c.data.tokenizer != "bpe") {
    fail("data.tokenizer",
         "expected \"bpe\" for model.arch marian (one byte-level BPE for both languages), got \"" +
             c.data.tokenizer + "\"");
  }
  if (marian && c.train.batch_tokens < 1) {
    fail("train.batch_tokens", "expected an integer >= 1 for model.arch marian, got " +
                                   std::to_string(c.train.batch_tokens));
  }
  if (marian && c.model.decoder_layers < 1) {
    fail("model.decoder_layers", "expected an integer >= 1 for model.arch marian, got " +
                                     std::to_string(c.model.decoder_layers));
  }
  if (marian && c.model.activation.empty()) {
    fail("model.activation",
         "expected one of \"swish\", \"gelu\", \"gelu_new\", \"relu\" for "
         "model.arch marian, got \"\"");
  }
  if (!marian && (c.model.decoder_layers != 0 || !c.model.activation.empty())) {
    fail(c.model.decoder_layers != 0 ? "model.decoder_layers" : "model.activation",
         "expected no value for model.arch " + arch + " (it is a marian setting)");
  }
  // Without val_files the validation split is carved from the train files.
  if (c.data.val_files.empty() && c.data.val_fraction <= 0.0) {
    fail("data.val_fraction", "expected a number in (0, 1) when data.val_files is empty, got " +
                                  format_double(c.data.val_fraction));
  }
}

}  // namespace kiln
