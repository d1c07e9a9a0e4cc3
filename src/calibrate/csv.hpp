// Private to lcsim_calibrate: a small RFC 4180 reader (no CSV library is packaged for C++).
#pragma once

#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace lcsim::csv {

/// One record: its fields (quotes removed, "" unescaped) and the line on which it starts.
struct Record {
  std::vector<std::string> fields;
  int line = 0;  ///< 1-based line of the record's first character (the header is line 1)
};

/// The separator of a file: ';' when its first line has ';' and no ',' (a European export), else ','.
char detect_separator(const std::string& text);

/// Splits `text` into records. Fields are separated by `separator` (0: detect_separator) and
/// records by LF or CRLF; a field
/// in double quotes may hold commas, line breaks and doubled quotes (""). Blank lines are skipped
/// (they still count as lines). A UTF-8 byte-order mark at the start is ignored.
/// @throws InputError (file, line, "") for an unterminated quoted field or text after a closing
///         quote other than a comma or the end of the record.
std::vector<Record> read_records(const std::string& text, const std::string& file,
                                 char separator = ',');

/// The records of a stream one at a time, as read_records() splits them (same separator
/// detection, quoting, line numbers, blank lines, byte-order mark and errors), reading the stream
/// in blocks of `block` bytes: memory holds a block (or the longest record), never the file.
/// The fields are views into the block (or into the reader, for quoted fields with doubled
/// quotes) and stay valid until the next call of next().
class RecordReader {
 public:
  /// `separator` 0: detect_separator() on the first line.
  /// @throws IoError "cannot read <file>" when reading the stream fails.
  RecordReader(std::istream& in, std::string file, char separator, std::size_t block = 1 << 20);

  /// Reads the next record; false at the end of the input.
  /// @throws InputError as read_records(); IoError when reading fails.
  bool next();
  [[nodiscard]] const std::vector<std::string_view>& fields() const { return fields_; }
  /// 1-based line of the record's first character.
  [[nodiscard]] int line() const { return record_line_; }
  [[nodiscard]] char separator() const { return sep_; }

 private:
  enum class Parse { kRecord, kMore, kEnd };
  Parse parse();
  /// Reads more of the stream behind the unread part (moved to the front); false at its end.
  bool fill();

  std::istream& in_;
  std::string file_;
  std::string buf_;
  std::size_t pos_ = 0;  ///< first unread byte of buf_
  std::size_t end_ = 0;  ///< end of the bytes read into buf_
  bool eof_ = false;
  int line_ = 1;
  int record_line_ = 0;
  char sep_ = ',';
  /// Fields as (offset, length) into buf_ from the record's start, or into unescaped_ (escaped).
  struct Span {
    std::size_t offset;
    std::size_t length;
    bool escaped;
  };
  std::vector<Span> spans_;
  std::string unescaped_;
  std::vector<std::string_view> fields_;
};

}  // namespace lcsim::csv
