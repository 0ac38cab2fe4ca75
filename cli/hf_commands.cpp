// kiln import-hf DIR --out PATH.h5 [--seed N]
// kiln export-hf CHECKPOINT --out DIR
// kiln forward --checkpoint PATH --input IN.h5 --output OUT.h5
// Thin argument layers over train/hf_import.h; docs/huggingface.md has the details.
#include <cstdio>

#include "base/error.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "train/hf_import.h"

namespace kiln::cli {

int import_hf_command(int argc, char** argv) {
  Args args("import-hf", argc, argv, {"out", "seed"});
  if (args.help()) {
    std::puts(
        "usage: kiln import-hf DIR --out PATH.h5 [--seed N]\n"
        "\n"
        "Converts a Hugging Face transformers folder into a kiln checkpoint (step 0).\n"
        "DIR holds config.json (model_type gpt2 or bert), model.safetensors (F32, F16 or BF16)\n"
        "and the tokenizer: vocab.json + merges.txt (GPT-2), or vocab.txt and optionally\n"
        "tokenizer_config.json (BERT). GPT2LMHeadModel/GPT2Model and BertForPreTraining/\n"
        "BertForMaskedLM/BertModel weights are accepted; parameters the file lacks (e.g. the\n"
        "pre-training heads of a BertModel) keep a fresh initialisation and are listed.\n"
        "A BertForSequenceClassification (config.json architectures, or an id2label) becomes\n"
        "a bert-classifier checkpoint with data.labels from id2label, in id order.\n"
        "  --out PATH.h5  the checkpoint to write\n"
        "  --seed N       seed of that initialisation, and run.seed of the checkpoint's config\n"
        "                 (default 1337)");
    return 0;
  }
  KILN_CHECK(args.positionals().size() == 1, "kiln import-hf: expected one DIR, got ",
             args.positionals().size(), " (see 'kiln import-hf --help')");
  const std::string out = args.require("out");
  HfImportSummary summary =
      import_hf(args.positionals()[0], out, static_cast<uint64_t>(args.get_int("seed", 1337)));
  for (const std::string& name : summary.initialised)
    std::fprintf(stderr, "import-hf: %s is not in model.safetensors; initialised\n", name.c_str());
  std::printf(
      "wrote %s: %s, %lld tensors copied, %zu initialised, %zu buffers or tied copies "
      "skipped\n",
      out.c_str(), arch_name(summary.arch), static_cast<long long>(summary.tensors_copied),
      summary.initialised.size(), summary.skipped.size());
  return 0;
}

int export_hf_command(int argc, char** argv) {
  Args args("export-hf", argc, argv, {"out"});
  if (args.help()) {
    std::puts(
        "usage: kiln export-hf CHECKPOINT --out DIR\n"
        "\n"
        "Writes a GPT, BERT or bert-classifier checkpoint as a Hugging Face transformers\n"
        "folder: config.json (GPT2LMHeadModel, BertForPreTraining, or\n"
        "BertForSequenceClassification with id2label/label2id from data.labels),\n"
        "model.safetensors (float32; tied weights once, as save_pretrained writes them) and\n"
        "the tokenizer (vocab.json + merges.txt, or vocab.txt), so from_pretrained(DIR)\n"
        "loads it. Needs a bpe or wordpiece tokenizer.\n"
        "  --out DIR  the folder to write (created if needed; files in it are replaced)");
    return 0;
  }
  KILN_CHECK(args.positionals().size() == 1, "kiln export-hf: expected one CHECKPOINT, got ",
             args.positionals().size(), " (see 'kiln export-hf --help')");
  const std::string out = args.require("out");
  export_hf(args.positionals()[0], out);
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

int forward_command(int argc, char** argv) {
  Args args("forward", argc, argv, {"checkpoint", "input", "output"});
  if (args.help()) {
    std::puts(
        "usage: kiln forward --checkpoint PATH --input IN.h5 --output OUT.h5\n"
        "\n"
        "Runs the checkpoint's model (evaluation mode: no dropout) on token ids and writes its\n"
        "outputs, to compare with another implementation.\n"
        "  IN.h5:  /input_ids, integers [batch, seq]; for BERT optionally /token_type_ids\n"
        "          (default 0) and /attention_mask (1 = token, 0 = padding; default 1)\n"
        "  OUT.h5: /logits float32 [batch, seq, vocab] (BERT: masked-LM logits at every\n"
        "          position; bert-classifier: [batch, num_labels]); both BERTs also\n"
        "          /last_hidden_state [batch, seq, d] and /pooled [batch, d], BERT\n"
        "          /nsp_logits [batch, 2]");
    return 0;
  }
  KILN_CHECK(args.positionals().empty(), "kiln forward: expected no positional arguments, got '",
             args.positionals().empty() ? "" : args.positionals()[0], "'");
  const std::string output = args.require("output");
  run_forward(args.require("checkpoint"), args.require("input"), output);
  std::printf("wrote %s\n", output.c_str());
  return 0;
}

}  // namespace kiln::cli
