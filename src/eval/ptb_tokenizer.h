// The caption tokenization of the COCO caption evaluation toolkit (pycocoevalcap's
// tokenizer/ptbtokenizer.py): Stanford PTBTokenizer 3.4.1 with -preserveLines -lowerCase,
// then every token in its fixed punctuation list dropped. Re-implemented here because the
// original needs Java and a 6 MB CoreNLP jar; the rules covered are listed in the .cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vlm::eval {

// Tokens of one caption as pycocoevalcap scores them: lower-cased, punctuation split off
// and removed, clitics split ("man's" -> "man", "'s"; "don't" -> "do", "n't").
std::vector<std::string> ptb_tokenize(std::string_view caption);

// The same tokens joined by single spaces (the string pycocoevalcap hands its scorers).
std::string ptb_tokenize_joined(std::string_view caption);

}  // namespace vlm::eval
