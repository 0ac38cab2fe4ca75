// Labelled text for sequence classification: examples read from JSON lines or from one folder
// per label, and a held-out split that is a pure function of (seed, the example's text).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct LabelledText {
  std::string text;
  int32_t label = 0;   // index into the label list: the class order
  std::string source;  // "<file>:<line>" (JSON lines) or the file's path (folders)
};

// One object per non-blank line, {"text": string, "label": string}, the label one of `labels`
// (other members are ignored). Errors name "<path>:<line>".
std::vector<LabelledText> read_labelled_jsonl(const std::string& path,
                                              const std::vector<std::string>& labels);

// `dir` holds one sub-folder per label name; each regular file in it, in name order, is one
// example. A sub-folder that is not a label is an error; a label without one has no examples.
std::vector<LabelledText> read_labelled_folders(const std::string& dir,
                                                const std::vector<std::string>& labels);

// Each path read as `format` ("jsonl" or "folders"), concatenated in order.
std::vector<LabelledText> read_labelled(const std::vector<std::string>& paths,
                                        const std::string& format,
                                        const std::vector<std::string>& labels);

struct LabelledSplit {
  std::vector<LabelledText> train, held_out;  // each in input order
};

// Holds out each example whose random_uniform(seed, fnv1a(text)) < fraction. Keying on the text
// rather than the position means reordering or adding files moves no example across the
// split, and duplicate texts always land on the same side (no train/held-out leakage).
LabelledSplit split_labelled(std::vector<LabelledText> examples, double fraction, uint64_t seed);

}  // namespace kiln
