// Writes what a BERT or Marian run starts from: its initial weights (/model/<HF name>), its
// first N training batches (/batch/<k>/...), and the model and optimizer settings as root
// attributes, so that bench/parity/torch_bert_parity.py (torch_marian_parity.py) can train a
// PyTorch model on exactly the same inputs and compare the losses step by step.
//
//   dump_bert_training CONFIG.yaml STEPS OUT.h5
#include <cstdio>
#include <exception>
#include <string>

#include "base/error.h"
#include "io/hdf5_file.h"
#include "train/bert_task.h"
#include "train/config.h"
#include "train/hdf5_tensor.h"
#include "train/translate_task.h"

namespace {

std::string exact(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

void write_settings(const kiln::Config& c, const kiln::nn::Module& model, kiln::Hdf5File& out) {
  const kiln::OptimizerConfig& o = c.train.optimizer;
  for (const auto& [name, tensor] : model.named_parameters())
    if (name == "bert.embeddings.word_embeddings.weight")
      out.set_attribute("vocab_size", tensor.shape()[0]);
  out.set_attribute("n_layer", c.model.n_layer);
  out.set_attribute("n_head", c.model.n_head);
  out.set_attribute("d_model", c.model.d_model);
  out.set_attribute("d_ff", c.model.d_ff);
  out.set_attribute("max_position", c.model.max_seq_len);
  out.set_attribute("layer_norm_eps", exact(c.model.layer_norm_eps));
  out.set_attribute("lr", exact(o.lr));
  out.set_attribute("beta1", exact(o.betas[0]));
  out.set_attribute("beta2", exact(o.betas[1]));
  out.set_attribute("eps", exact(o.eps));
  out.set_attribute("weight_decay", exact(o.weight_decay));
  out.set_attribute("schedule", c.train.schedule.name);
  out.set_attribute("warmup_steps", c.train.schedule.warmup_steps);
  out.set_attribute("min_lr", exact(c.train.schedule.min_lr));
  out.set_attribute("max_steps", c.train.max_steps);
  out.set_attribute("grad_clip", exact(c.train.grad_clip));
}

// Marian: the settings above plus the seq2seq ones, the sinusoidal table and the batches.
void dump_marian(const kiln::Config& config, int steps, kiln::Hdf5File& out) {
  kiln::TranslateTask task(config, std::nullopt);
  const kiln::nn::MarianConfig& m = task.marian().config();
  for (const auto& [name, tensor] : task.model().named_parameters())
    kiln::write_tensor(out, "model/" + name, tensor);
  kiln::write_tensor(out, "positions",
                     kiln::nn::sinusoidal_positions(m.max_position_embeddings, m.d_model));
  for (int k = 0; k < steps; ++k) {
    const kiln::PairBatch b = task.train_batches().batch(static_cast<uint64_t>(k));
    const std::string group = "batch/" + std::to_string(k) + "/";
    const kiln::Shape source{b.rows, b.source_len}, target{b.rows, b.target_len};
    kiln::write_tensor(out, group + "input_ids", kiln::Tensor::from_ints(source, b.input_ids));
    kiln::write_tensor(out, group + "attention_mask",
                       kiln::Tensor::from_ints(source, b.attention_mask));
    kiln::write_tensor(out, group + "decoder_input_ids",
                       kiln::Tensor::from_ints(target, b.decoder_input_ids));
    kiln::write_tensor(out, group + "labels", kiln::Tensor::from_ints(target, b.labels));
  }
  write_settings(config, task.model(), out);
  out.set_attribute("arch", std::string("marian"));
  out.set_attribute("vocab_size", m.vocab_size);
  out.set_attribute("decoder_layers", m.decoder_layers);
  out.set_attribute("activation", std::string(kiln::nn::activation_name(m.activation)));
  out.set_attribute("scale_embedding", int64_t{m.scale_embedding});
  out.set_attribute("pad_token_id", int64_t{m.pad_token_id});
  out.set_attribute("label_smoothing", exact(config.train.label_smoothing));
  std::string frozen;
  for (const std::string& pattern : config.train.freeze)
    frozen += (frozen.empty() ? "" : ",") + pattern;
  out.set_attribute("freeze", frozen);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 4) {
    std::fprintf(stderr, "usage: dump_bert_training CONFIG.yaml STEPS OUT.h5\n");
    return 2;
  }
  // Dropout masks differ between the frameworks: compare without it.
  const kiln::Config config = kiln::load_config(argv[1], {"model.dropout=0"});
  const bool marian = config.model.arch == kiln::Arch::kMarian;
  KILN_CHECK((config.model.arch == kiln::Arch::kBert || marian) && config.train.grad_accum == 1,
             argv[1],
             ": expected model.arch bert or marian and train.grad_accum 1, the "
             "settings under which both frameworks see the same computation");
  const int steps = std::stoi(argv[2]);
  if (marian) {
    kiln::Hdf5File out(argv[3], kiln::Hdf5File::Mode::kCreate);
    dump_marian(config, steps, out);
    out.close();
    std::printf("wrote %s: initial weights and %d batches\n", argv[3], steps);
    return 0;
  }
  kiln::BertTask task(config, std::nullopt);
  kiln::Hdf5File out(argv[3], kiln::Hdf5File::Mode::kCreate);
  for (const auto& [name, tensor] : task.model().named_parameters())
    write_tensor(out, "model/" + name, tensor);
  kiln::BertBatch b;
  for (int k = 0; k < steps; ++k) {
    task.train_batches().fill(static_cast<uint64_t>(k), b);
    const std::string group = "batch/" + std::to_string(k) + "/";
    const kiln::Shape shape{b.batch_size, b.seq_len};
    write_tensor(out, group + "input_ids", kiln::Tensor::from_ints(shape, b.input_ids));
    write_tensor(out, group + "token_type_ids", kiln::Tensor::from_ints(shape, b.token_type_ids));
    write_tensor(out, group + "attention_mask", kiln::Tensor::from_ints(shape, b.attention_mask));
    write_tensor(out, group + "mlm_labels", kiln::Tensor::from_ints(shape, b.mlm_labels));
    write_tensor(out, group + "nsp_labels", kiln::Tensor::from_ints({b.batch_size}, b.nsp_labels));
  }
  write_settings(config, task.model(), out);
  out.close();
  std::printf("wrote %s: initial weights and %d batches\n", argv[3], steps);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dump_bert_training: %s\n", e.what());
  return 1;
}
