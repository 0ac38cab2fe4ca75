// kiln embed --checkpoint PATH --text TEXT: a BERT (or bert-classifier) checkpoint's final
// hidden states and pooled [CLS] vector for one text, as JSON.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "base/error.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "data/tokenizer.h"
#include "io/json.h"
#include "nn/bert.h"
#include "nn/parameter_arena.h"
#include "train/bert_task.h"
#include "train/checkpoint.h"
#include "train/classify_task.h"
#include "train/config.h"

namespace kiln::cli {

int embed_command(int argc, char** argv) {
  Args args("embed", argc, argv, {"checkpoint", "text"});
  if (args.help()) {
    std::puts(
        "usage: kiln embed --checkpoint PATH --text TEXT\n"
        "\n"
        "Runs a BERT or bert-classifier checkpoint's encoder (in eval mode; a classifier's\n"
        "head is not used) on [CLS] TEXT [SEP], tokenized with the checkpoint's WordPiece\n"
        "tokenizer, and prints one JSON line:\n"
        "  {\"tokens\": [...], \"ids\": [...], \"last_hidden_state_shape\": [1, T, d],\n"
        "   \"pooled\": [d floats]}\n"
        "where pooled = tanh(dense(hidden state of [CLS])), BERT's sentence vector.");
    return 0;
  }
  const std::string path = args.require("checkpoint");
  const std::string text = args.require("text");
  KILN_CHECK(args.positionals().empty(), "kiln embed: expected no arguments besides the options, ",
             "got \"", args.positionals()[0], "\" (quote TEXT that holds spaces)");
  const Checkpoint checkpoint = load_checkpoint(path);
  const Config config = parse_config(checkpoint.state.config_yaml, path + ":/config");
  const bool is_classifier = config.model.arch == "bert-classifier";
  KILN_CHECK(is_classifier || config.model.arch == "bert",
             "kiln embed: expected a BERT checkpoint (model.arch bert or bert-classifier), got ",
             path, " with model.arch ", config.model.arch);
  const Tokenizer tokenizer = Tokenizer::from_serialized(checkpoint.state.tokenizer);
  const WordPieceTokenizer* wordpiece = tokenizer.as<WordPieceTokenizer>();
  KILN_CHECK(wordpiece != nullptr, path,
             ":/tokenizer: expected a WordPiece tokenizer for BERT, got ", tokenizer.kind());

  // The classifier is built whole so that its checkpoint restores name for name.
  std::unique_ptr<nn::Bert> bert;
  std::unique_ptr<nn::BertForSequenceClassification> classifier;
  if (is_classifier)
    classifier = std::make_unique<nn::BertForSequenceClassification>(
        bert_classifier_config_for(config, *wordpiece), config.model.num_labels, 0);
  else
    bert = std::make_unique<nn::Bert>(bert_config_for(config, *wordpiece), 0);
  nn::Module& model = is_classifier ? static_cast<nn::Module&>(*classifier) : *bert;
  const nn::BertConfig& bert_config = is_classifier ? classifier->config() : bert->config();
  nn::ParameterArena arena(model);  // owns the weights' storage
  restore_checkpoint(checkpoint, arena, nullptr);
  model.train(false);  // no dropout

  std::vector<int32_t> ids = {wordpiece->cls_id()};
  for (int32_t id : wordpiece->encode(text, "--text")) ids.push_back(id);
  ids.push_back(wordpiece->sep_id());
  const int64_t max_position = bert_config.max_position;
  KILN_CHECK(static_cast<int64_t>(ids.size()) <= max_position,
             "kiln embed: --text: expected at most ", max_position - 2,
             " WordPiece tokens (model.max_seq_len - 2), got ", ids.size() - 2);
  const int64_t seq_len = static_cast<int64_t>(ids.size());

  NoGradGuard no_grad;
  const Tensor input = Tensor::from_ints({1, seq_len}, ids);
  const nn::BertOutput output = is_classifier ? classifier->encode(input) : bert->forward(input);
  const Shape& shape = output.last_hidden_state.shape();        // [1, T, d]
  const std::vector<float> pooled = output.pooled.to_floats();  // [1, d]

  json::Writer out = json::Writer::spaced();
  out.begin_object().key("tokens").begin_array();
  for (int32_t id : ids) out.string(wordpiece->token(id));
  out.end_array().key("ids").begin_array();
  for (int32_t id : ids) out.integer(id);
  out.end_array().key("last_hidden_state_shape").begin_array();
  for (int64_t d : shape) out.integer(d);
  out.end_array().key("pooled").begin_array();
  for (float v : pooled) out.float32(v);
  std::printf("%s\n", out.end_array().end_object().text().c_str());
  return 0;
}

}  // namespace kiln::cli
