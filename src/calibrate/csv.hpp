// Private to lcsim_calibrate: a small RFC 4180 reader (no CSV library is packaged for C++).
#pragma once

#include <string>
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
std::vector<Record> read_records(const std::string& text, const std::string& file, char separator = ',');

}  // namespace lcsim::csv
