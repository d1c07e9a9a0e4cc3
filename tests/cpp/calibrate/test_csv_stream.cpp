// The streaming CSV reader (src/calibrate/csv.hpp, RecordReader) splits every text exactly as the
// whole-text reader read_records() does, whatever the block size: records, fields, line numbers,
// separator detection, the byte-order mark, blank lines, CR/LF at block edges and the errors.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "csv.hpp"
#include "lcsim/core/error.hpp"

namespace lcsim {
namespace {

struct Split {
  std::vector<csv::Record> records;
  std::string error;  ///< "line: message" of an InputError, else empty
};

Split whole(const std::string& text, char separator) {
  Split out;
  try {
    out.records = csv::read_records(text, "f.csv", separator);
  } catch (const InputError& e) {
    out.error = std::to_string(e.line()) + ": " + e.problems().front().message;
  }
  return out;
}

Split streamed(const std::string& text, char separator, std::size_t block) {
  Split out;
  std::istringstream in(text);
  try {
    csv::RecordReader reader(in, "f.csv", separator, block);
    if (separator == 0) {
      EXPECT_EQ(reader.separator(), csv::detect_separator(text));
    }
    while (reader.next()) {
      csv::Record r;
      r.line = reader.line();
      for (const std::string_view f : reader.fields()) r.fields.emplace_back(f);
      out.records.push_back(std::move(r));
    }
  } catch (const InputError& e) {
    out.error = std::to_string(e.line()) + ": " + e.problems().front().message;
    out.records.clear();  // read_records throws before returning any record
  }
  return out;
}

const std::vector<std::string>& texts() {
  static const std::vector<std::string> t = {
      "customer_id,timestamp,stage\nc1,2025-01-01,lead\nc1,2025-01-02,mql\n",
      "customer_id,timestamp,stage\r\nc1,2025-01-01,lead\r\nc2,2025-01-02,mql",
      "\xEF\xBB\xBF"
      "a,b\n1,2\n",
      "a;b;c\n1;2;3\n\n\r\n4;5;6\r",
      "a,b\n\"x, y\",\"say \"\"hi\"\"\nthere\"\n\"\",\"\"\"\"\n",
      "a,b\n\"multi\nline\nfield\",2\nlast,\"q\"\r\n",
      "a,b\n1,2\r\n\r\n\n3,4\r",
      "a,b\n1,x\ry\n2,\"\"\"\"\"\"\n",
      "a,b\n\"unterminated,2\n3,4\n",
      "a,b\n\"closed\"junk,2\n",
      "a,b\n\"closed\"\r",
      "a,b\n\"closed\"\rx\n",
      "",
      "\n\n\r\n",
      "only header",
      "a,b,c\n,,\n , , \n",
  };
  return t;
}

TEST(CsvStreamTest, every_block_size_splits_as_the_whole_text_reader) {
  for (const std::string& text : texts()) {
    for (const char separator : {'\0', ',', ';'}) {
      const Split want = whole(text, separator);
      for (const std::size_t block :
           {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}, std::size_t{16},
            std::size_t{17}, std::size_t{31}, std::size_t{1} << 20}) {
        const Split got = streamed(text, separator, block);
        SCOPED_TRACE(::testing::Message()
                     << "text '" << text << "' separator " << int(separator) << " block " << block);
        EXPECT_EQ(got.error, want.error);
        ASSERT_EQ(got.records.size(), want.records.size());
        for (std::size_t i = 0; i < want.records.size(); ++i) {
          EXPECT_EQ(got.records[i].line, want.records[i].line);
          EXPECT_EQ(got.records[i].fields, want.records[i].fields);
        }
      }
    }
  }
}

TEST(CsvStreamTest, a_large_text_streams_in_small_blocks) {
  std::string text = "customer_id,timestamp,stage\n";
  for (int i = 0; i < 5000; ++i) {
    text += "c" + std::to_string(i % 97) + ",2025-01-" + std::to_string(1 + i % 28) +
            (i % 7 == 0 ? ",\"a \"\"quoted\"\"\nstage\"\r\n" : ",lead\n");
  }
  const Split want = whole(text, 0);
  ASSERT_TRUE(want.error.empty());
  ASSERT_EQ(want.records.size(), 5001U);
  for (const std::size_t block : {std::size_t{64}, std::size_t{4096}}) {
    const Split got = streamed(text, 0, block);
    ASSERT_EQ(got.records.size(), want.records.size());
    for (std::size_t i = 0; i < want.records.size(); ++i) {
      ASSERT_EQ(got.records[i].line, want.records[i].line) << i;
      ASSERT_EQ(got.records[i].fields, want.records[i].fields) << i;
    }
  }
}

}  // namespace
}  // namespace lcsim
