#include "lcsim/core/input_file.hpp"

#include <filesystem>
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
    return "larger than " + std::to_string(max_bytes >> 20) + " MiB (" + std::to_string(size) + " bytes)";
  }
  return "";
}

}  // namespace lcsim
