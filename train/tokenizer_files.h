// Tokenizers on disk as users have them (a vocab.txt, a Hugging Face or OpenAI tokenizer
// folder, a saved kiln tokenizer, a checkpoint), saving one, and the JSON text that the
// `kiln tokenizer` command reads (json::quote in io/json.h writes its answers).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "data/tokenizer.h"

namespace kiln {

// The tokenizer `path` holds, whichever of these it is:
//  - a kiln checkpoint (an HDF5 file): its /tokenizer;
//  - a saved kiln tokenizer (a file whose first line is a kiln tokenizer header);
//  - a BPE vocab.json / encoder.json or merges.txt / vocab.bpe, with the other file beside it;
//  - a WordPiece vocab.txt (one token a line);
//  - a folder holding vocab.json + merges.txt or encoder.json + vocab.bpe (BPE), or
//    vocab.txt (WordPiece; uncased when its tokenizer_config.json says "do_lower_case": true).
// `lowercase` chooses uncased WordPiece for a vocab.txt (default: cased, or what
// tokenizer_config.json says). It is an error for the other kinds, which fix their own casing.
// Errors name the path and say which files were expected.
Tokenizer load_tokenizer(const std::string& path, std::optional<bool> lowercase = std::nullopt);

// Writes tokenizer.serialize() to `path` atomically: "<path>.tmp", fsync, then rename.
void save_tokenizer(const Tokenizer& tokenizer, const std::string& path);

// The string value of member `key` of the JSON object `line` (one line of JSON Lines), as
// UTF-8. The whole line must be valid JSON (json::parse: duplicate keys are refused). Errors
// name `where` ("stdin:3"), the byte offset in the line and what was expected.
std::string json_string_member(std::string_view line, std::string_view key, std::string_view where);

}  // namespace kiln
