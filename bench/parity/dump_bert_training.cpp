// Writes what a BERT run starts from: its initial weights (/model/<HF name>), its first N
// training batches (/batch/<k>/...), and the model and optimizer settings as root attributes,
// so that bench/parity/torch_bert_parity.py can train the PyTorch reference on exactly the
// same inputs and compare the losses step by step.
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

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 4) {
    std::fprintf(stderr, "usage: dump_bert_training CONFIG.yaml STEPS OUT.h5\n");
    return 2;
  }
  const kiln::Config config = kiln::load_config(argv[1]);
  KILN_CHECK(
      config.model.arch == kiln::Arch::kBert && config.model.dropout == 0 && config.train.grad_accum == 1,
      argv[1],
      ": expected model.arch bert, model.dropout 0 and train.grad_accum 1, the "
      "settings under which both frameworks see the same computation");
  const int steps = std::stoi(argv[2]);
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
