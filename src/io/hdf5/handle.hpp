/// @file handle.hpp
/// Private to src/io: RAII handles and checked helpers over the HDF5 C API.
///
/// Every H5* call made through this layer is checked: a negative return becomes an lcsim::IoError whose
/// message names the file and object ("study.h5:/runs/base/occupancy"), the call that failed and the
/// HDF5 error stack. Handles close themselves; hid_t never leaves src/io.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace lcsim::hdf5 {

/// Prepares HDF5 for use on the calling thread: initializes the library and turns off HDF5's
/// automatic printing of errors to stderr (a per-thread setting in thread-safe builds). Cheap after the
/// first call on a thread; every entry point of the study module calls it.
void init();

/// The calling thread's current HDF5 error stack as one line ("H5Fopen(): unable to open file (file
/// signature not found); ..."), outermost call first; empty if the stack is empty. Clears the stack.
[[nodiscard]] std::string error_stack();

/// Throws IoError("<where>: <call> failed: <error stack>").
[[noreturn]] void fail(const std::string& where, const char* call);

/// Returns `rc`, or throws IoError (see fail()) if it is negative. Works for herr_t, htri_t, hid_t,
/// hssize_t and ssize_t returns.
template <class T>
T check(T rc, const char* call, const std::string& where) {
  if (rc < 0) fail(where, call);
  return rc;
}

/// Something HDF5 identifies with an hid_t, plus a readable location for error messages
/// ("file.h5:/runs/a"). Not owning; see Handle.
class Object {
 public:
  [[nodiscard]] hid_t id() const noexcept { return id_; }
  [[nodiscard]] const std::string& where() const noexcept { return where_; }
  [[nodiscard]] bool valid() const noexcept { return id_ >= 0; }
  /// The location string of a child object `name` of this one.
  [[nodiscard]] std::string child(const std::string& name) const;

 protected:
  Object() = default;
  Object(hid_t id, std::string where) : id_(id), where_(std::move(where)) {}
  ~Object() = default;
  Object(Object&&) = default;
  Object& operator=(Object&&) = default;

  hid_t id_ = H5I_INVALID_HID;
  std::string where_;
};

namespace detail {
struct FileCloser {
  static herr_t close(hid_t id) noexcept { return H5Fclose(id); }
  static constexpr const char* kName = "H5Fclose";
};
struct GroupCloser {
  static herr_t close(hid_t id) noexcept { return H5Gclose(id); }
  static constexpr const char* kName = "H5Gclose";
};
struct DatasetCloser {
  static herr_t close(hid_t id) noexcept { return H5Dclose(id); }
  static constexpr const char* kName = "H5Dclose";
};
struct DataspaceCloser {
  static herr_t close(hid_t id) noexcept { return H5Sclose(id); }
  static constexpr const char* kName = "H5Sclose";
};
struct DatatypeCloser {
  static herr_t close(hid_t id) noexcept { return H5Tclose(id); }
  static constexpr const char* kName = "H5Tclose";
};
struct AttributeCloser {
  static herr_t close(hid_t id) noexcept { return H5Aclose(id); }
  static constexpr const char* kName = "H5Aclose";
};
struct PropListCloser {
  static herr_t close(hid_t id) noexcept { return H5Pclose(id); }
  static constexpr const char* kName = "H5Pclose";
};
}  // namespace detail

/// An owned hid_t, closed by Closer::close when the handle dies (errors then are ignored) or by
/// close() (errors then throw). Move-only.
template <class Closer>
class Handle : public Object {
 public:
  Handle() = default;
  /// Takes ownership of `id`, which must be valid (use check() on the call that made it).
  Handle(hid_t id, std::string where) : Object(id, std::move(where)) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept
      : Object(std::exchange(other.id_, H5I_INVALID_HID), std::move(other.where_)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      where_ = std::move(other.where_);
    }
    return *this;
  }
  ~Handle() { reset(); }

  /// Closes now. @throws IoError if HDF5 reports a failure (for a file: a failed flush).
  void close() {
    if (id_ >= 0) check(Closer::close(std::exchange(id_, H5I_INVALID_HID)), Closer::kName, where_);
  }

 private:
  void reset() noexcept {
    if (id_ >= 0) static_cast<void>(Closer::close(std::exchange(id_, H5I_INVALID_HID)));
  }
};

using File = Handle<detail::FileCloser>;
using Group = Handle<detail::GroupCloser>;
using Dataset = Handle<detail::DatasetCloser>;
using Dataspace = Handle<detail::DataspaceCloser>;
using Datatype = Handle<detail::DatatypeCloser>;
using Attribute = Handle<detail::AttributeCloser>;
using PropList = Handle<detail::PropListCloser>;

// ---- files ---------------------------------------------------------------------------------------

/// Creates a new HDF5 file; fails if `path` exists. Studies are written in the HDF5 1.8+ object format
/// (dense attribute storage, so large attributes fit).
[[nodiscard]] File create_file(const std::string& path);
/// Opens an existing HDF5 file read-only or read-write.
[[nodiscard]] File open_file(const std::string& path, bool writable);
/// True if the file at `path` starts with the HDF5 signature (a user block is not looked for).
[[nodiscard]] bool has_hdf5_signature(const std::string& path);

// ---- groups and links ----------------------------------------------------------------------------

/// True if `loc` has a link called `name` (one path component).
[[nodiscard]] bool link_exists(const Object& loc, const std::string& name);
[[nodiscard]] Group create_group(const Object& loc, const std::string& name);
[[nodiscard]] Group open_group(const Object& loc, const std::string& name);
/// True if `loc`/`name` exists and is a group.
[[nodiscard]] bool is_group(const Object& loc, const std::string& name);
/// Names of the links in a group, in name order.
[[nodiscard]] std::vector<std::string> link_names(const Object& group);
/// Removes the link `name` from `loc` (the space it used is not given back to the file).
void remove_link(const Object& loc, const std::string& name);

// ---- attributes ----------------------------------------------------------------------------------

[[nodiscard]] bool has_attr(const Object& obj, const std::string& name);
/// Deletes an attribute.
void remove_attr(const Object& obj, const std::string& name);

/// Scalar variable-length UTF-8 string.
void write_string_attr(const Object& obj, const std::string& name, const std::string& value);
/// Reads a scalar string attribute, variable- or fixed-length.
[[nodiscard]] std::string read_string_attr(const Object& obj, const std::string& name);

/// 1-d array of variable-length UTF-8 strings (shape [0] when empty).
void write_strings_attr(const Object& obj, const std::string& name,
                        const std::vector<std::string>& values);
/// Reads a 1-d (or scalar) string attribute, variable- or fixed-length.
[[nodiscard]] std::vector<std::string> read_strings_attr(const Object& obj,
                                                         const std::string& name);

/// Scalar int32.
void write_int_attr(const Object& obj, const std::string& name, int value);
[[nodiscard]] int read_int_attr(const Object& obj, const std::string& name);
/// Scalar uint64.
void write_uint64_attr(const Object& obj, const std::string& name, std::uint64_t value);
[[nodiscard]] std::uint64_t read_uint64_attr(const Object& obj, const std::string& name);
/// Scalar float64.
void write_double_attr(const Object& obj, const std::string& name, double value);
[[nodiscard]] double read_double_attr(const Object& obj, const std::string& name);

/// 1-d arrays of int32, int64 and float64 (shape [0] when empty). Reads convert from any integer or
/// float file type HDF5 can convert.
void write_ints_attr(const Object& obj, const std::string& name, std::span<const int> values);
[[nodiscard]] std::vector<int> read_ints_attr(const Object& obj, const std::string& name);
void write_int64s_attr(const Object& obj, const std::string& name,
                       std::span<const std::int64_t> values);
[[nodiscard]] std::vector<std::int64_t> read_int64s_attr(const Object& obj,
                                                         const std::string& name);
void write_doubles_attr(const Object& obj, const std::string& name, std::span<const double> values);
[[nodiscard]] std::vector<double> read_doubles_attr(const Object& obj, const std::string& name);

// ---- N-d numeric datasets ------------------------------------------------------------------------

/// Elements above which a dataset is chunked and compressed (shuffle + deflate level 4).
inline constexpr hsize_t kCompressAbove = 4096;
/// Deflate (gzip) level of compressed datasets.
inline constexpr unsigned kDeflateLevel = 4;

/// Chunk shape for a dataset of `dims` with elements of `element_size` bytes: empty (contiguous) for
/// at most kCompressAbove elements, else about 1 MiB per chunk, split along the leading dimensions.
[[nodiscard]] std::vector<hsize_t> chunk_shape(std::span<const hsize_t> dims,
                                               std::size_t element_size);

/// Writes a row-major int64 (file: little-endian int64) dataset of shape `dims`;
/// data.size() must be the product of dims. Chunked and compressed above kCompressAbove elements.
Dataset write_array(const Object& loc, const std::string& name, std::span<const std::int64_t> data,
                    std::span<const hsize_t> dims);
/// Same for float64 (file: IEEE little-endian double).
Dataset write_array(const Object& loc, const std::string& name, std::span<const double> data,
                    std::span<const hsize_t> dims);

[[nodiscard]] Dataset open_dataset(const Object& loc, const std::string& name);
/// Shape of a dataset (empty for a scalar).
[[nodiscard]] std::vector<hsize_t> dataset_shape(const Dataset& dataset);
/// Reads a whole dataset as int64 / float64 (converting from the file type), row-major.
[[nodiscard]] std::vector<std::int64_t> read_int64_array(const Dataset& dataset);
[[nodiscard]] std::vector<double> read_double_array(const Dataset& dataset);

// ---- compound tables -----------------------------------------------------------------------------

/// Kinds of compound fields. kString is a variable-length UTF-8 string (a `const char*` in a row).
enum class FieldType { kInt16, kInt32, kInt64, kFloat64, kString };

/// The row of a 1-d compound dataset: named fields laid end to end without padding. The memory row and
/// the file row have the same layout (memory uses native types, the file little-endian ones), so packed
/// rows are written without conversion on little-endian hosts. Reading matches fields by name, so a
/// file written with another field order or padding (h5py, pandas) reads too.
class CompoundLayout {
 public:
  /// Appends a field; returns its byte offset in the row.
  std::size_t add(std::string name, FieldType type);
  [[nodiscard]] std::size_t row_size() const noexcept { return size_; }
  [[nodiscard]] std::size_t num_fields() const noexcept { return fields_.size(); }
  [[nodiscard]] std::size_t offset(std::size_t field) const { return fields_.at(field).offset; }
  [[nodiscard]] bool has_strings() const noexcept;
  /// Native-typed compound type, for H5Dread/H5Dwrite.
  [[nodiscard]] Datatype memory_type(const std::string& where) const;
  /// Little-endian compound type stored in the file.
  [[nodiscard]] Datatype file_type(const std::string& where) const;

 private:
  struct Field {
    std::string name;
    FieldType type;
    std::size_t offset;
  };
  std::vector<Field> fields_;
  std::size_t size_ = 0;
};

/// Creates a 1-d compound dataset of `rows` rows. With chunk_rows > 0 it is chunked by that many
/// rows with an unlimited maximum size, and compressed (shuffle + deflate) when `compress`.
[[nodiscard]] Dataset create_table(const Object& loc, const std::string& name,
                                   const CompoundLayout& layout, hsize_t rows, hsize_t chunk_rows,
                                   bool compress);
/// Writes rows [first, first + count) from packed rows in `data` (count * row_size bytes).
void write_rows(const Dataset& table, const CompoundLayout& layout, hsize_t first, hsize_t count,
                const void* data);
/// Creates and fills a table at once; chunked and compressed when rows * fields > kCompressAbove.
Dataset write_table(const Object& loc, const std::string& name, const CompoundLayout& layout,
                    hsize_t rows, const void* data);
/// Number of rows of a 1-d dataset.
[[nodiscard]] hsize_t num_rows(const Dataset& table);
/// Reads rows [first, first + count) into packed rows in `data`. Strings are allocated by HDF5:
/// free them with reclaim_strings().
void read_rows(const Dataset& table, const CompoundLayout& layout, hsize_t first, hsize_t count,
               void* data);
/// Frees the strings read_rows() allocated in `count` packed rows.
void reclaim_strings(const Dataset& table, const CompoundLayout& layout, hsize_t count, void* data);

/// A whole table read into packed rows. Owns the strings HDF5 allocated for them: they are freed when
/// the object dies, so a reader that throws half way through the rows leaks nothing.
class TableRows {
 public:
  /// Reads every row of `table` (fields matched by name, see CompoundLayout).
  TableRows(const Dataset& table, CompoundLayout layout);
  TableRows(const TableRows&) = delete;
  TableRows& operator=(const TableRows&) = delete;
  ~TableRows();

  [[nodiscard]] std::size_t size() const noexcept { return static_cast<std::size_t>(count_); }
  /// Field `field` of row `row` (a numeric field, of the type its FieldType is read as).
  template <class T>
  [[nodiscard]] T get(std::size_t row, std::size_t field) const {
    T value;
    std::memcpy(&value, at(row, field), sizeof(T));
    return value;
  }
  /// String field `field` of row `row` ("" for a null string).
  [[nodiscard]] std::string string(std::size_t row, std::size_t field) const;

 private:
  [[nodiscard]] const std::byte* at(std::size_t row, std::size_t field) const;

  std::string where_;
  CompoundLayout layout_;
  hsize_t count_ = 0;
  std::vector<std::byte> data_;
};

}  // namespace lcsim::hdf5
