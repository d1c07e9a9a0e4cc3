#include "csv.hpp"

#include "lcsim/core/error.hpp"

namespace lcsim::csv {

char detect_separator(const std::string& text) {
  std::size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  const std::size_t end = text.find('\n', start);
  const std::string header = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  return header.find(';') != std::string::npos && header.find(',') == std::string::npos ? ';' : ',';
}

std::vector<Record> read_records(const std::string& text, const std::string& file, char separator) {
  const char sep = separator == 0 ? detect_separator(text) : separator;
  std::vector<Record> records;
  std::size_t pos = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;
  int line = 1;
  const std::size_t n = text.size();

  while (pos < n) {
    // A blank line (LF or CRLF alone) is not a record.
    if (text[pos] == '\n') {
      ++pos;
      ++line;
      continue;
    }
    if (text[pos] == '\r' && pos + 1 < n && text[pos + 1] == '\n') {
      pos += 2;
      ++line;
      continue;
    }
    Record record;
    record.line = line;
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (pos < n && text[pos] == '"') {
        const int quote_line = line;
        ++pos;
        bool closed = false;
        while (pos < n) {
          const char c = text[pos++];
          if (c == '"') {
            if (pos < n && text[pos] == '"') {
              field += '"';
              ++pos;
            } else {
              closed = true;
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        if (!closed) {
          throw InputError(file, quote_line, "",
                           "unterminated quoted field: expected a closing '\"' before the end "
                           "of the file");
        }
        if (pos < n && text[pos] != sep && text[pos] != '\n' &&
            !(text[pos] == '\r' && pos + 1 < n && text[pos + 1] == '\n') &&
            !(text[pos] == '\r' && pos + 1 == n)) {
          throw InputError(file, line, "",
                           expected_got("'" + std::string(1, sep) + "' or the end of the record after a closing quote",
                                        "'" + std::string(1, text[pos]) + "'"));
        }
      } else {
        while (pos < n && text[pos] != sep && text[pos] != '\n' &&
               !(text[pos] == '\r' && (pos + 1 == n || text[pos + 1] == '\n'))) {
          field += text[pos++];
        }
      }
      record.fields.push_back(field);
      if (pos >= n) {
        end_of_record = true;
      } else if (text[pos] == sep) {
        ++pos;
      } else {
        // LF, CRLF or a final CR.
        pos += text[pos] == '\r' ? 2 : 1;
        ++line;
        end_of_record = true;
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace lcsim::csv
