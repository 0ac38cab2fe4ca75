// kiln import-hf DIR --out PATH.h5 [--seed N]
// kiln export-hf CHECKPOINT --out DIR
// kiln forward --checkpoint PATH --input IN.h5 --output OUT.h5
// Thin argument layers over train/hf_import.h; docs/huggingface.md has the details.
#include <cstdio>
#include <memory>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "train/hf_import.h"

namespace kiln::cli {

void add_import_hf_command(CLI::App& kiln) {
  struct Options {
    std::string dir;
    std::string out;
    long long seed = 1337;
  };
  auto o = std::make_shared<Options>();
  CLI::App* command = kiln.add_subcommand(
      "import-hf", "convert a Hugging Face model folder (safetensors) into a kiln checkpoint");
  command->add_option("DIR", o->dir, "the Hugging Face transformers folder")->required();
  command->add_option("--out", o->out, "the checkpoint to write")->required()->type_name("PATH.h5");
  command
      ->add_option("--seed", o->seed,
                   "seed of the initialisation of parameters the file lacks, and run.seed of "
                   "the checkpoint's config")
      ->type_name("N")
      ->check(any_integer());
  command->footer(
      "Converts a Hugging Face transformers folder into a kiln checkpoint (step 0).\n"
      "DIR holds config.json (model_type gpt2 or bert), model.safetensors (F32, F16 or BF16)\n"
      "and the tokenizer: vocab.json + merges.txt (GPT-2), or vocab.txt and optionally\n"
      "tokenizer_config.json (BERT). GPT2LMHeadModel/GPT2Model and BertForPreTraining/\n"
      "BertForMaskedLM/BertModel weights are accepted; parameters the file lacks (e.g. the\n"
      "pre-training heads of a BertModel) keep a fresh initialisation and are listed.\n"
      "A BertForSequenceClassification (config.json architectures, or an id2label) becomes\n"
      "a bert-classifier checkpoint with data.labels from id2label, in id order.");
  command->callback([o] {
    HfImportSummary summary = import_hf(o->dir, o->out, static_cast<uint64_t>(o->seed));
    for (const std::string& name : summary.initialised)
      std::fprintf(stderr, "import-hf: %s is not in model.safetensors; initialised\n",
                   name.c_str());
    std::printf(
        "wrote %s: %s, %lld tensors copied, %zu initialised, %zu buffers or tied copies "
        "skipped\n",
        o->out.c_str(), arch_name(summary.arch), static_cast<long long>(summary.tensors_copied),
        summary.initialised.size(), summary.skipped.size());
  });
}

void add_export_hf_command(CLI::App& kiln) {
  struct Options {
    std::string checkpoint;
    std::string out;
  };
  auto o = std::make_shared<Options>();
  CLI::App* command =
      kiln.add_subcommand("export-hf", "write a kiln checkpoint as a Hugging Face model folder");
  command->add_option("CHECKPOINT", o->checkpoint, "a GPT, BERT or bert-classifier checkpoint")
      ->required();
  command
      ->add_option("--out", o->out,
                   "the folder to write (created if needed; files in it are "
                   "replaced)")
      ->required()
      ->type_name("DIR");
  command->footer(
      "Writes a GPT, BERT or bert-classifier checkpoint as a Hugging Face transformers\n"
      "folder: config.json (GPT2LMHeadModel, BertForPreTraining, or\n"
      "BertForSequenceClassification with id2label/label2id from data.labels),\n"
      "model.safetensors (float32; tied weights once, as save_pretrained writes them) and\n"
      "the tokenizer (vocab.json + merges.txt, or vocab.txt), so from_pretrained(DIR)\n"
      "loads it. Needs a bpe or wordpiece tokenizer.");
  command->callback([o] {
    export_hf(o->checkpoint, o->out);
    std::printf("wrote %s\n", o->out.c_str());
  });
}

void add_forward_command(CLI::App& kiln) {
  struct Options {
    std::string checkpoint, input, output;
    std::vector<std::string> extra;
  };
  auto o = std::make_shared<Options>();
  CLI::App* forward = kiln.add_subcommand(
      "forward", "run a checkpoint on inputs from an HDF5 file, write the outputs");
  forward->add_option("--checkpoint", o->checkpoint, "the model to run")
      ->required()
      ->type_name("PATH");
  forward->add_option("--input", o->input, "the token ids (see below)")
      ->required()
      ->type_name("IN.h5");
  forward->add_option("--output", o->output, "the file to write (see below)")
      ->required()
      ->type_name("OUT.h5");
  forward->add_option("extra", o->extra)->group("");  // named in the error below
  forward->footer(
      "Runs the checkpoint's model (evaluation mode: no dropout) on token ids and writes its\n"
      "outputs, to compare with another implementation.\n"
      "  IN.h5:  /input_ids, integers [batch, seq]; for BERT optionally /token_type_ids\n"
      "          (default 0) and /attention_mask (1 = token, 0 = padding; default 1)\n"
      "  OUT.h5: /logits float32 [batch, seq, vocab] (BERT: masked-LM logits at every\n"
      "          position; bert-classifier: [batch, num_labels]); both BERTs also\n"
      "          /last_hidden_state [batch, seq, d] and /pooled [batch, d], BERT\n"
      "          /nsp_logits [batch, 2]");
  forward->callback([o] {
    KILN_CHECK(o->extra.empty(), "kiln forward: expected no positional arguments, got '",
               o->extra.empty() ? "" : o->extra[0], "'");
    run_forward(o->checkpoint, o->input, o->output);
    std::printf("wrote %s\n", o->output.c_str());
  });
}

}  // namespace kiln::cli
