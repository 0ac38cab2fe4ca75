// [CLS] text [SEP] -> BERT encoder -> JSON.
#include "train/embed.h"

#include <vector>

#include "autograd/tape.h"
#include "base/error.h"
#include "io/json.h"

namespace kiln {

std::string embedding_json(const LoadedModel& loaded, std::string_view text) {
  loaded.model.require({Arch::kBert, Arch::kBertClassifier}, "kiln embed: " + loaded.path);
  const WordPieceTokenizer* wordpiece = loaded.tokenizer.as<WordPieceTokenizer>();
  KILN_CHECK(wordpiece != nullptr, loaded.path,
             ":/tokenizer: expected a WordPiece tokenizer for BERT, got ", loaded.tokenizer.kind());
  std::vector<int32_t> ids = {wordpiece->cls_id()};
  for (int32_t id : wordpiece->encode(text, "--text")) ids.push_back(id);
  ids.push_back(wordpiece->sep_id());
  const int64_t max_position = loaded.config.model.max_seq_len;
  KILN_CHECK(static_cast<int64_t>(ids.size()) <= max_position,
             "kiln embed: --text: expected at most ", max_position - 2,
             " WordPiece tokens (model.max_seq_len - 2), got ", ids.size() - 2);

  NoGradGuard no_grad;
  const Tensor input = Tensor::from_ints({1, static_cast<int64_t>(ids.size())}, ids);
  const nn::BertOutput output = loaded.model.encode(input);

  using json::Value;
  Value tokens = Value::array(), id_list = Value::array(), shape = Value::array(),
        pooled = Value::array();
  for (int32_t id : ids) {
    tokens.push_back(Value::string(wordpiece->token(id)));
    id_list.push_back(Value::integer(id));
  }
  for (int64_t d : output.last_hidden_state.shape())
    shape.push_back(Value::integer(d));                                          // [1, T, d]
  for (float v : output.pooled.to_floats()) pooled.push_back(Value::number(v));  // [1, d]
  Value out = Value::object();
  out.set("tokens", std::move(tokens));
  out.set("ids", std::move(id_list));
  out.set("last_hidden_state_shape", std::move(shape));
  out.set("pooled", std::move(pooled));
  return json::write(out);
}

}  // namespace kiln
