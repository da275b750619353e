// derpd's command line as a whole: the input split on NUL into argv, then derper-style flag
// normalisation and CLI11's parse with every validator and callback. Bad input must produce an
// error, never a crash. Kept apart from config_fuzz: a parse here costs ten times a value parse,
// and the value parsers deserve their own speed.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "relay/main/options.h"

using namespace derp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // NUL-separated words, as argv.
  std::vector<std::string> words{"derpd"};
  std::string word;
  for (char c : text) {
    if (c == '\0') {
      words.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  words.push_back(word);
  if (words.size() > 64) return -1;  // longer command lines add nothing but time
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  // The flag table is built once (building it was most of an input's time). --help, --version
  // and CLI11's error messages would write for every input: both streams are silenced instead.
  static main::CommandLineParser parser;
  static const bool silenced = [] {
    std::cout.rdbuf(nullptr);
    std::cerr.rdbuf(nullptr);
    return true;
  }();
  (void)silenced;
  (void)parser.parse(static_cast<int>(argv.size()), argv.data());
  return 0;
}
