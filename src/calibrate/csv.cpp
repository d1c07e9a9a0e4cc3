#include "csv.hpp"

#include <algorithm>
#include <cstring>

#include "lcsim/core/error.hpp"

namespace lcsim::csv {

char detect_separator(const std::string& text) {
  std::size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  const std::size_t end = text.find('\n', start);
  const std::string header =
      text.substr(start, end == std::string::npos ? std::string::npos : end - start);
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
                           expected_got("'" + std::string(1, sep) +
                                            "' or the end of the record after a closing quote",
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

// ---- the streaming reader ------------------------------------------------------------------------

RecordReader::RecordReader(std::istream& in, std::string file, char separator, std::size_t block)
    : in_(in), file_(std::move(file)), buf_(std::max<std::size_t>(block, 16), '\0') {
  // The whole first line (or the whole input) for the byte-order mark and the separator.
  while (!eof_ && std::string_view(buf_.data(), end_).find('\n') == std::string_view::npos) fill();
  const std::string_view head(buf_.data(), end_);
  if (head.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  sep_ =
      separator != 0 ? separator : detect_separator(std::string(head.substr(0, head.find('\n'))));
}

bool RecordReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(2 * buf_.size());  // a record longer than a block
  in_.read(buf_.data() + end_, static_cast<std::streamsize>(buf_.size() - end_));
  if (in_.bad()) throw IoError("cannot read " + file_);
  const auto got = static_cast<std::size_t>(in_.gcount());
  end_ += got;
  if (got == 0 || in_.eof()) eof_ = true;
  return got > 0;
}

bool RecordReader::next() {
  for (;;) {
    switch (parse()) {
      case Parse::kRecord:
        return true;
      case Parse::kEnd:
        return false;
      case Parse::kMore:
        fill();  // reads more or marks the end: parse() then finishes
        break;
    }
  }
}

RecordReader::Parse RecordReader::parse() {
  const char* t = buf_.data();
  const std::size_t n = end_;
  // A blank line (LF or CRLF alone) is not a record. Parse::kMore wherever the decision needs a
  // byte not read yet; the record is then parsed again from its start after fill().
  for (;;) {
    if (pos_ >= n) return eof_ ? Parse::kEnd : Parse::kMore;
    if (t[pos_] == '\n') {
      ++pos_;
      ++line_;
      continue;
    }
    if (t[pos_] == '\r') {
      if (pos_ + 1 >= n && !eof_) return Parse::kMore;
      if (pos_ + 1 < n && t[pos_ + 1] == '\n') {
        pos_ += 2;
        ++line_;
        continue;
      }
    }
    break;
  }
  std::size_t p = pos_;
  int line = line_;
  spans_.clear();
  unescaped_.clear();
  for (;;) {
    if (p < n && t[p] == '"') {
      const int quote_line = line;
      ++p;
      const std::size_t start = p;
      const std::size_t unescaped_start = unescaped_.size();
      bool escaped = false;  // a doubled quote seen: the field is built in unescaped_
      bool closed = false;
      while (p < n) {
        const char c = t[p++];
        if (c == '"') {
          if (p >= n && !eof_) return Parse::kMore;
          if (p < n && t[p] == '"') {
            if (!escaped) unescaped_.append(t + start, p - 1 - start);
            escaped = true;
            unescaped_ += '"';
            ++p;
          } else {
            closed = true;
            break;
          }
        } else {
          if (c == '\n') ++line;
          if (escaped) unescaped_ += c;
        }
      }
      if (!closed) {
        if (!eof_) return Parse::kMore;
        throw InputError(file_, quote_line, "",
                         "unterminated quoted field: expected a closing '\"' before the end "
                         "of the file");
      }
      if (escaped) {
        spans_.push_back(Span{unescaped_start, unescaped_.size() - unescaped_start, true});
      } else {
        spans_.push_back(Span{start - pos_, p - 1 - start, false});
      }
      if (p >= n && !eof_) return Parse::kMore;
      if (p < n && t[p] == '\r' && p + 1 >= n && !eof_) return Parse::kMore;
      if (p < n && t[p] != sep_ && t[p] != '\n' &&
          !(t[p] == '\r' && p + 1 < n && t[p + 1] == '\n') && !(t[p] == '\r' && p + 1 == n)) {
        throw InputError(file_, line, "",
                         expected_got("'" + std::string(1, sep_) +
                                          "' or the end of the record after a closing quote",
                                      "'" + std::string(1, t[p]) + "'"));
      }
    } else {
      const std::size_t start = p;
      for (;;) {
        if (p >= n) {
          if (!eof_) return Parse::kMore;
          break;
        }
        const char c = t[p];
        if (c == sep_ || c == '\n') break;
        if (c == '\r') {
          if (p + 1 >= n) {
            if (!eof_) return Parse::kMore;
            break;  // a final CR
          }
          if (t[p + 1] == '\n') break;
        }
        ++p;
      }
      spans_.push_back(Span{start - pos_, p - start, false});
    }
    if (p >= n) break;
    if (t[p] == sep_) {
      ++p;
      continue;
    }
    // LF, CRLF or a final CR.
    p += t[p] == '\r' ? 2 : 1;
    ++line;
    break;
  }
  const char* base = t + pos_;
  record_line_ = line_;
  line_ = line;
  pos_ = std::min(p, n);
  fields_.clear();
  for (const Span& s : spans_) {
    fields_.emplace_back(s.escaped ? unescaped_.data() + s.offset : base + s.offset, s.length);
  }
  return Parse::kRecord;
}

}  // namespace lcsim::csv
