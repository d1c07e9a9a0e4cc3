#include "lcsim/core/input_file.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace lcsim {

std::string input_file_problem(const std::string& path, std::uintmax_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);  // follows symbolic links
  switch (status.type()) {
    case fs::file_type::regular:
      break;
    case fs::file_type::not_found:
      return "no such file";
    case fs::file_type::directory:
      return "a directory, not a file";
    case fs::file_type::character:
    case fs::file_type::block:
      return "not a regular file (a device)";
    case fs::file_type::fifo:
      return "not a regular file (a FIFO)";
    case fs::file_type::socket:
      return "not a regular file (a socket)";
    default:
      return error ? error.message() : "not a regular file";
  }
  const std::uintmax_t size = fs::file_size(path, error);
  if (!error && size > max_bytes) {
    return "larger than " + std::to_string(max_bytes >> 20) + " MiB (" + std::to_string(size) +
           " bytes)";
  }
  return "";
}

std::string read_input_file(const std::string& path, std::uintmax_t max_bytes, bool& ok,
                            std::string& why) {
  ok = false;
  why = input_file_problem(path, max_bytes);
  if (!why.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return {};
  ok = true;
  return text;
}

}  // namespace lcsim
