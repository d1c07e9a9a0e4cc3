// The g++ driver of the libFuzzer harnesses in the normal test suite: feeds every file named on
// the command line (a directory: every file in it, sorted) to LLVMFuzzerTestOneInput, then, for a
// short fixed count, deterministic mutants of them (bytes flipped, cut, doubled, and tokens that
// broke readers before: separators, quotes, CR, BOM, YAML anchors and aliases, NaN/inf, huge
// numbers). A finding aborts (exit != 0), as under libFuzzer. See docs/hardening.md.
//
//   fuzz_replay_<name> [--mutants N] FILE|DIR...
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

/// SplitMix64: the mutants are the same on every machine.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

using namespace std::string_view_literals;
constexpr std::string_view kTokens[] = {
    ","sv, ";"sv, "\""sv, "\"\""sv, "\r\n"sv, "\r"sv, "\n"sv, "\xEF\xBB\xBF"sv, "\t"sv, " "sv, ":"sv,
    "- "sv, "{"sv, "}"sv, "["sv, "]"sv, "&a "sv, "*a"sv, "<<: *a"sv, "!!str "sv, "? "sv, "|"sv, ">"sv,
    "#"sv, "---\n"sv, "...\n"sv, "~"sv, "nan"sv, ".nan"sv, "-.inf"sv, ".inf"sv, "inf"sv, "1e308"sv,
    "1e-308"sv, "-1"sv, "0"sv, "1e12"sv, "1e-6"sv, "9999999999999999999"sv, "2024-02-30"sv,
    "2024-01-01T25:00:00Z"sv, "1970-01-01"sv, "9999-12-31"sv, "+14:00"sv, "\\"sv, "\x00"sv, "\xFF"sv,
    "extends: "sv, "changes: "sv};

std::string mutate(const std::string& input, Rng& rng) {
  std::string out = input;
  const int edits = 1 + static_cast<int>(rng.below(4));
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = rng.below(out.size() + 1);
    switch (rng.below(6)) {
      case 0:  // flip a byte
        if (!out.empty()) out[std::min(at, out.size() - 1)] ^= static_cast<char>(1 + rng.below(255));
        break;
      case 1:  // cut a span
        out.erase(at, rng.below(64));
        break;
      case 2:  // double a span
        out.insert(at, out.substr(at, rng.below(64)));
        break;
      case 3:  // truncate
        out.resize(at);
        break;
      default: {  // insert a token
        const std::string_view token = kTokens[rng.below(std::size(kTokens))];
        out.insert(at, token.data(), token.size());
        break;
      }
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mutants = 0;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mutants" && i + 1 < argc) {
      mutants = static_cast<std::size_t>(std::strtoull(argv[++i], nullptr, 10));
      continue;
    }
    const std::filesystem::path path(arg);
    if (std::filesystem::is_directory(path)) {
      std::vector<std::filesystem::path> in_dir;
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) in_dir.push_back(entry.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (std::filesystem::is_regular_file(path)) {
      files.push_back(path);
    } else {
      std::fprintf(stderr, "fuzz replay: no such file or directory: %s\n", arg.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "fuzz replay: no inputs\n");
    return 2;
  }
  std::vector<std::string> inputs;
  for (const auto& file : files) {
    inputs.push_back(read_file(file));
    run(inputs.back());
  }
  Rng rng{0x6C6373696D2D3234ULL};
  for (std::size_t k = 0; k < mutants; ++k) run(mutate(inputs[k % inputs.size()], rng));
  std::printf("fuzz replay: %zu inputs from %zu files and %zu mutants, no finding\n", files.size() + mutants,
              files.size(), mutants);
  return 0;
}
