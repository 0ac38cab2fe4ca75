// Hugging Face interchange: a transformers model folder (config.json, model.safetensors,
// tokenizer files) to a kiln checkpoint and back, and the forward pass of a checkpoint on
// token ids from HDF5, so outputs can be compared with transformers' (docs/huggingface.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/config.h"

namespace kiln {

// What import_hf did besides copying tensors name for name.
struct HfImportSummary {
  Arch arch = Arch::kGpt;                // what config.json described
  int64_t tensors_copied = 0;            // file tensors copied into kiln parameters
  std::vector<std::string> initialised;  // kiln parameters absent from the file: left at init
  std::vector<std::string> skipped;      // file keys ignored: buffers and tied copies (checked)
};

// Reads `dir`/config.json (model_type gpt2 or bert), `dir`/model.safetensors (F32, F16 or
// BF16; GPT2LMHeadModel / GPT2Model, BertForPreTraining / BertForMaskedLM / BertModel /
// BertForSequenceClassification keys, with or without the "transformer." / "bert." prefix,
// legacy LayerNorm gamma/beta) and the tokenizer files (vocab.json + merges.txt, or vocab.txt
// + optional tokenizer_config.json), and writes a kiln checkpoint (step 0, no optimizer
// state) to `out_path`. A BertForSequenceClassification (named in architectures, or by an
// id2label in a config without architectures) becomes a bert-classifier whose data.labels
// are id2label's names in id order. Parameters the file lacks keep the initialisation of a
// model built from `seed` and are listed in the summary. A shape that disagrees with
// config.json, an unexpected key, or a tied copy that differs from its original is an error
// naming the tensor.
HfImportSummary import_hf(const std::string& dir, const std::string& out_path,
                          uint64_t seed = 1337);

// Writes `out_dir`/config.json, model.safetensors (F32, HF names, tied copies omitted as
// save_pretrained does) and the tokenizer files (vocab.json + merges.txt for BPE, vocab.txt +
// tokenizer_config.json for WordPiece) of a GPT, BERT or bert-classifier checkpoint (the last
// as BertForSequenceClassification with id2label/label2id from data.labels). A character
// tokenizer has no Hugging Face form and is an error.
void export_hf(const std::string& checkpoint_path, const std::string& out_dir);

// Runs the checkpoint's model in evaluation mode on /input_ids (int [B, T]) of `input_path`
// (BERTs also read /token_type_ids and /attention_mask when present: default zeros and ones)
// and writes `output_path`: /logits [B, T, V] (BERT: the masked-LM logits at every position;
// a classifier: [B, num_labels]) and, for both BERTs, /last_hidden_state [B, T, d] and
// /pooled [B, d], plus /nsp_logits [B, 2] for BERT pretraining.
void run_forward(const std::string& checkpoint_path, const std::string& input_path,
                 const std::string& output_path);

}  // namespace kiln
