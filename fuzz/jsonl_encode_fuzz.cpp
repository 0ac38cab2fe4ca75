// Fuzz target: the JSON-lines input of `kiln tokenizer encode`: each non-blank line goes
// through json_string_member (train/tokenizer_files.h) and its "text" is encoded, as
// cli/tokenizer_command.cpp does, with the answer's tokens quoted by json::quote.
#include <string_view>

#include "fuzz/fuzz_target.h"
#include "fuzz/fuzz_tokenizers.h"
#include "io/json.h"
#include "train/tokenizer_files.h"

KILN_FUZZ_TARGET(jsonl_encode) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const kiln::WordPieceTokenizer& wordpiece = kiln::fuzz::small_wordpiece(true);
  long long number = 1;
  for (size_t start = 0; start < input.size(); ++number) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    kiln::fuzz::refusal_is_fine([&] {
      const std::string where = "stdin:" + std::to_string(number);
      const std::string text = kiln::json_string_member(line, "text", where);
      const std::vector<int32_t> ids = wordpiece.encode(text, where + ": \"text\"");
      std::string answer = "[";
      for (int32_t id : ids) answer += kiln::json::quote(wordpiece.token(id)) + ",";
      if (answer.size() > 1) answer.pop_back();
      answer += "]";
      // The answer the command prints must itself be valid JSON.
      (void)kiln::json::parse(answer, "answer");
    });
  }
  return 0;
}
