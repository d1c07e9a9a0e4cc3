#include "lcsim/core/error.hpp"

#include <utility>

namespace lcsim {
namespace {

std::string join(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.to_string();
  }
  return out;
}

}  // namespace

std::string Problem::to_string() const {
  std::string out = file.empty() ? std::string("<input>") : file;
  if (line > 0) out.append(":").append(std::to_string(line));
  out.append(": ");
  if (warning) out.append("warning: ");
  if (!field.empty()) out.append(field).append(": ");
  out.append(message);
  return out;
}

InputError::InputError(std::vector<Problem> problems)
    : Error(join(problems)), problems_(std::move(problems)) {
  if (problems_.empty()) throw InternalError("InputError without a problem");
}

InputError::InputError(std::string file, int line, std::string field, std::string message)
    : InputError(std::vector<Problem>{
          Problem{std::move(file), line, std::move(field), std::move(message), false}}) {}

std::string expected_got(const std::string& what, const std::string& got) {
  return "expected " + what + ", got " + got;
}

}  // namespace lcsim
