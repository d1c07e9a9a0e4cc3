#include "handle.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <numeric>

#include "lcsim/core/error.hpp"

namespace lcsim::hdf5 {
namespace {

// ---- errors ----------------------------------------------------------------------------------------

herr_t append_error(unsigned /*n*/, const H5E_error2_t* err, void* client) noexcept {
  auto* out = static_cast<std::string*>(client);
  try {
    if (!out->empty()) out->append("; ");
    if (err->func_name != nullptr) {
      out->append(err->func_name);
      out->append("(): ");
    }
    if (err->desc != nullptr) out->append(err->desc);
    std::array<char, 256> minor{};
    if (H5Eget_msg(err->min_num, nullptr, minor.data(), minor.size()) > 0) {
      out->append(" (");
      out->append(minor.data());
      out->append(")");
    }
  } catch (...) {
    return -1;
  }
  return 0;
}

// ---- helpers ---------------------------------------------------------------------------------------

hsize_t product(std::span<const hsize_t> dims) {
  return std::accumulate(dims.begin(), dims.end(), hsize_t{1}, std::multiplies<>());
}

std::string shape_string(std::span<const hsize_t> dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

PropList study_file_access(const std::string& where) {
  PropList fapl(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", where), where);
  // Objects readable by HDF5 1.8 and later; allows dense attribute storage (attributes over 64 KiB).
  check(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "H5Pset_libver_bounds",
        where);
  // H5Fclose closes every object still open in the file, so the file is really closed afterwards.
  check(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree", where);
  // HDF5's own file locking stays at the library default (HDF5_USE_FILE_LOCKING decides): a study
  // is only ever opened read-only or as a private temporary copy, so locks never get in the way, and
  // matching h5py's default lets one process hold a study open in both.
  return fapl;
}

hid_t native(FieldType type) {
  switch (type) {
    case FieldType::kInt16:
      return H5T_NATIVE_INT16;
    case FieldType::kInt32:
      return H5T_NATIVE_INT32;
    case FieldType::kInt64:
      return H5T_NATIVE_INT64;
    case FieldType::kFloat64:
      return H5T_NATIVE_DOUBLE;
    case FieldType::kString:
      break;
  }
  return H5I_INVALID_HID;
}

hid_t little_endian(FieldType type) {
  switch (type) {
    case FieldType::kInt16:
      return H5T_STD_I16LE;
    case FieldType::kInt32:
      return H5T_STD_I32LE;
    case FieldType::kInt64:
      return H5T_STD_I64LE;
    case FieldType::kFloat64:
      return H5T_IEEE_F64LE;
    case FieldType::kString:
      break;
  }
  return H5I_INVALID_HID;
}

std::size_t field_size(FieldType type) {
  switch (type) {
    case FieldType::kInt16:
      return 2;
    case FieldType::kInt32:
      return 4;
    case FieldType::kInt64:
      return 8;
    case FieldType::kFloat64:
      return 8;
    case FieldType::kString:
      return sizeof(const char*);
  }
  return 0;
}

Datatype vlen_string_type(const std::string& where) {
  Datatype type(check(H5Tcopy(H5T_C_S1), "H5Tcopy", where), where);
  check(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size", where);
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset", where);
  return type;
}

Dataspace simple_space(std::span<const hsize_t> dims, const std::string& where,
                       const hsize_t* maxdims = nullptr) {
  return Dataspace(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims),
                         "H5Screate_simple", where),
                   where);
}

Dataspace scalar_space(const std::string& where) {
  return Dataspace(check(H5Screate(H5S_SCALAR), "H5Screate", where), where);
}

Attribute create_attr(const Object& obj, const std::string& name, hid_t file_type,
                      const Dataspace& space) {
  const std::string where = obj.where() + " attribute " + name;
  return Attribute(
      check(H5Acreate2(obj.id(), name.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
            "H5Acreate2", where),
      where);
}

Attribute open_attr(const Object& obj, const std::string& name) {
  const std::string where = obj.where() + " attribute " + name;
  if (check(H5Aexists(obj.id(), name.c_str()), "H5Aexists", where) <= 0) {
    throw IoError(where + ": missing");
  }
  return Attribute(check(H5Aopen(obj.id(), name.c_str(), H5P_DEFAULT), "H5Aopen", where), where);
}

hssize_t attr_elements(const Attribute& attr) {
  Dataspace space(check(H5Aget_space(attr.id()), "H5Aget_space", attr.where()), attr.where());
  return check(H5Sget_simple_extent_npoints(space.id()), "H5Sget_simple_extent_npoints",
               attr.where());
}

template <class T>
void write_scalar_attr(const Object& obj, const std::string& name, hid_t file_type, hid_t mem_type,
                       const T& value) {
  Dataspace space = scalar_space(obj.where());
  Attribute attr = create_attr(obj, name, file_type, space);
  check(H5Awrite(attr.id(), mem_type, &value), "H5Awrite", attr.where());
}

template <class T>
T read_scalar_attr(const Object& obj, const std::string& name, hid_t mem_type) {
  Attribute attr = open_attr(obj, name);
  if (attr_elements(attr) != 1) throw IoError(attr.where() + ": expected a single value");
  T value{};
  check(H5Aread(attr.id(), mem_type, &value), "H5Aread", attr.where());
  return value;
}

template <class T>
void write_array_attr(const Object& obj, const std::string& name, hid_t file_type, hid_t mem_type,
                      std::span<const T> values) {
  const std::array<hsize_t, 1> dims{values.size()};
  Dataspace space = simple_space(dims, obj.where());
  Attribute attr = create_attr(obj, name, file_type, space);
  // Written even when empty (see write_strings_attr).
  const T none{};
  check(H5Awrite(attr.id(), mem_type, values.empty() ? &none : values.data()), "H5Awrite",
        attr.where());
}

template <class T>
std::vector<T> read_array_attr(const Object& obj, const std::string& name, hid_t mem_type) {
  Attribute attr = open_attr(obj, name);
  std::vector<T> values(static_cast<std::size_t>(attr_elements(attr)));
  if (!values.empty()) check(H5Aread(attr.id(), mem_type, values.data()), "H5Aread", attr.where());
  return values;
}

template <class T>
Dataset write_numeric(const Object& loc, const std::string& name, std::span<const T> data,
                      std::span<const hsize_t> dims, hid_t file_type, hid_t mem_type) {
  const std::string where = loc.child(name);
  if (product(dims) != data.size()) {
    throw IoError(where + ": " + std::to_string(data.size()) + " values for shape " +
                  shape_string(dims));
  }
  Dataspace space = simple_space(dims, where);
  PropList dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", where), where);
  const std::vector<hsize_t> chunks = chunk_shape(dims, sizeof(T));
  if (!chunks.empty()) {
    check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunks.size()), chunks.data()), "H5Pset_chunk",
          where);
    check(H5Pset_shuffle(dcpl.id()), "H5Pset_shuffle", where);
    check(H5Pset_deflate(dcpl.id(), kDeflateLevel), "H5Pset_deflate", where);
  }
  Dataset dataset(check(H5Dcreate2(loc.id(), name.c_str(), file_type, space.id(), H5P_DEFAULT,
                                   dcpl.id(), H5P_DEFAULT),
                        "H5Dcreate2", where),
                  where);
  if (!data.empty()) {
    check(H5Dwrite(dataset.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "H5Dwrite",
          where);
  }
  return dataset;
}

template <class T>
std::vector<T> read_numeric(const Dataset& dataset, hid_t mem_type) {
  const std::vector<hsize_t> dims = dataset_shape(dataset);
  std::vector<T> values(static_cast<std::size_t>(product(dims)));
  if (!values.empty()) {
    check(H5Dread(dataset.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "H5Dread",
          dataset.where());
  }
  return values;
}

/// Selects rows [first, first + count) of a 1-d dataset; returns (file space, memory space).
std::pair<Dataspace, Dataspace> row_selection(const Dataset& table, hsize_t first, hsize_t count) {
  const std::string& where = table.where();
  Dataspace file_space(check(H5Dget_space(table.id()), "H5Dget_space", where), where);
  const std::array<hsize_t, 1> start{first};
  const std::array<hsize_t, 1> size{count};
  check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, size.data(),
                            nullptr),
        "H5Sselect_hyperslab", where);
  Dataspace mem_space = simple_space(size, where);
  return {std::move(file_space), std::move(mem_space)};
}

}  // namespace

// ---- errors ------------------------------------------------------------------------------------------

void init() {
  static std::once_flag once;
  std::call_once(once, [] { H5open(); });
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

std::string error_stack() {
  std::string out;
  const hid_t stack = H5Eget_current_stack();  // copies and clears the current stack
  if (stack < 0) return out;
  H5Ewalk2(stack, H5E_WALK_DOWNWARD, append_error, &out);
  H5Eclose_stack(stack);
  return out;
}

void fail(const std::string& where, const char* call) {
  std::string message = where + ": " + call + " failed";
  const std::string stack = error_stack();
  if (!stack.empty()) message += ": " + stack;
  throw IoError(message);
}

std::string Object::child(const std::string& name) const {
  if (!where_.empty() && where_.back() == '/') return where_ + name;
  return where_ + "/" + name;
}

// ---- files -------------------------------------------------------------------------------------------

File create_file(const std::string& path) {
  const std::string where = path + ":/";
  PropList fapl = study_file_access(where);
  return File(
      check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.id()), "H5Fcreate", where),
      where);
}

File open_file(const std::string& path, bool writable) {
  const std::string where = path + ":/";
  PropList fapl = study_file_access(where);
  return File(check(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.id()),
                    "H5Fopen", where),
              where);
}

bool has_hdf5_signature(const std::string& path) {
  static constexpr std::array<char, 8> kSignature{'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream in(path, std::ios::binary);
  std::array<char, 8> head{};
  if (!in.read(head.data(), head.size())) return false;
  return head == kSignature;
}

// ---- groups and links ----------------------------------------------------------------------------

bool link_exists(const Object& loc, const std::string& name) {
  return check(H5Lexists(loc.id(), name.c_str(), H5P_DEFAULT), "H5Lexists", loc.child(name)) > 0;
}

Group create_group(const Object& loc, const std::string& name) {
  const std::string where = loc.child(name);
  // Attributes stay in the object header (compact) up to 64 of them, not HDF5's default 8: a run
  // group has about 20, and HDF5 before 1.14.4 crashes copying a group whose variable-length string
  // attributes are in dense storage (H5Ocopy, so h5py's Group.copy and h5copy; HDF5 issue #2414).
  // An attribute too big for the header (over 64 KiB) still goes to dense storage.
  PropList gcpl(check(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate", where), where);
  check(H5Pset_attr_phase_change(gcpl.id(), 64, 48), "H5Pset_attr_phase_change", where);
  return Group(check(H5Gcreate2(loc.id(), name.c_str(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT),
                     "H5Gcreate2", where),
               where);
}

Group open_group(const Object& loc, const std::string& name) {
  const std::string where = loc.child(name);
  return Group(check(H5Gopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Gopen2", where), where);
}

bool is_group(const Object& loc, const std::string& name) {
  if (!link_exists(loc, name)) return false;
  const std::string where = loc.child(name);
  // H5Oget_info_by_name changed signature in 1.12; H5Oexists_by_name + H5Gget_info_by_name work in both.
  if (check(H5Oexists_by_name(loc.id(), name.c_str(), H5P_DEFAULT), "H5Oexists_by_name", where) <=
      0) {
    return false;  // dangling soft or external link
  }
  H5I_type_t type = H5I_BADID;
  {
    const hid_t id = H5Oopen(loc.id(), name.c_str(), H5P_DEFAULT);
    check(id, "H5Oopen", where);
    type = H5Iget_type(id);
    H5Oclose(id);
  }
  return type == H5I_GROUP;
}

std::vector<std::string> link_names(const Object& group) {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) noexcept -> herr_t {
    try {
      static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    } catch (...) {
      return -1;
    }
    return 0;
  };
  hsize_t index = 0;
  check(H5Literate(group.id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names), "H5Literate",
        group.where());
  return names;
}

void remove_link(const Object& loc, const std::string& name) {
  check(H5Ldelete(loc.id(), name.c_str(), H5P_DEFAULT), "H5Ldelete", loc.child(name));
}

// ---- attributes ----------------------------------------------------------------------------------

bool has_attr(const Object& obj, const std::string& name) {
  return check(H5Aexists(obj.id(), name.c_str()), "H5Aexists", obj.where() + " attribute " + name) >
         0;
}

void remove_attr(const Object& obj, const std::string& name) {
  check(H5Adelete(obj.id(), name.c_str()), "H5Adelete", obj.where() + " attribute " + name);
}

void write_string_attr(const Object& obj, const std::string& name, const std::string& value) {
  Datatype type = vlen_string_type(obj.where());
  Dataspace space = scalar_space(obj.where());
  Attribute attr = create_attr(obj, name, type.id(), space);
  const char* data = value.c_str();
  check(H5Awrite(attr.id(), type.id(), &data), "H5Awrite", attr.where());
}

std::string read_string_attr(const Object& obj, const std::string& name) {
  std::vector<std::string> values = read_strings_attr(obj, name);
  if (values.size() != 1)
    throw IoError(obj.where() + " attribute " + name + ": expected one string");
  return std::move(values.front());
}

void write_strings_attr(const Object& obj, const std::string& name,
                        const std::vector<std::string>& values) {
  Datatype type = vlen_string_type(obj.where());
  const std::array<hsize_t, 1> dims{values.size()};
  Dataspace space = simple_space(dims, obj.where());
  Attribute attr = create_attr(obj, name, type.id(), space);
  // Written even when empty: an attribute of variable-length strings that was created but never
  // written has no data, and HDF5 1.10's H5Ocopy (h5py's Group.copy, h5copy) crashes copying it.
  std::vector<const char*> data;
  data.reserve(values.size());
  for (const auto& v : values) data.push_back(v.c_str());
  const char* const none = "";
  check(H5Awrite(attr.id(), type.id(), data.empty() ? &none : data.data()), "H5Awrite",
        attr.where());
}

std::vector<std::string> read_strings_attr(const Object& obj, const std::string& name) {
  Attribute attr = open_attr(obj, name);
  const std::string& where = attr.where();
  Datatype file_type(check(H5Aget_type(attr.id()), "H5Aget_type", where), where);
  if (H5Tget_class(file_type.id()) != H5T_STRING) throw IoError(where + ": expected strings");
  const auto n = static_cast<std::size_t>(attr_elements(attr));
  std::vector<std::string> values;
  values.reserve(n);
  if (n == 0) return values;
  if (check(H5Tis_variable_str(file_type.id()), "H5Tis_variable_str", where) > 0) {
    Datatype mem_type = vlen_string_type(where);
    std::vector<char*> data(n, nullptr);
    check(H5Aread(attr.id(), mem_type.id(), data.data()), "H5Aread", where);
    for (char* s : data) values.emplace_back(s == nullptr ? "" : s);
    Dataspace space(check(H5Aget_space(attr.id()), "H5Aget_space", where), where);
    check(H5Dvlen_reclaim(mem_type.id(), space.id(), H5P_DEFAULT, data.data()), "H5Dvlen_reclaim",
          where);
  } else {
    const std::size_t size = H5Tget_size(file_type.id());
    if (size == 0) throw IoError(where + ": bad string size");
    Datatype mem_type(check(H5Tcopy(H5T_C_S1), "H5Tcopy", where), where);
    check(H5Tset_size(mem_type.id(), size), "H5Tset_size", where);
    check(H5Tset_strpad(mem_type.id(), H5T_STR_NULLPAD), "H5Tset_strpad", where);
    std::vector<char> data(n * size);
    check(H5Aread(attr.id(), mem_type.id(), data.data()), "H5Aread", where);
    for (std::size_t i = 0; i < n; ++i) {
      const char* s = data.data() + i * size;
      values.emplace_back(s, strnlen(s, size));
    }
  }
  return values;
}

void write_int_attr(const Object& obj, const std::string& name, int value) {
  write_scalar_attr(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, value);
}
int read_int_attr(const Object& obj, const std::string& name) {
  return read_scalar_attr<int>(obj, name, H5T_NATIVE_INT);
}
void write_uint64_attr(const Object& obj, const std::string& name, std::uint64_t value) {
  write_scalar_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, value);
}
std::uint64_t read_uint64_attr(const Object& obj, const std::string& name) {
  return read_scalar_attr<std::uint64_t>(obj, name, H5T_NATIVE_UINT64);
}
void write_double_attr(const Object& obj, const std::string& name, double value) {
  write_scalar_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, value);
}
double read_double_attr(const Object& obj, const std::string& name) {
  return read_scalar_attr<double>(obj, name, H5T_NATIVE_DOUBLE);
}

void write_ints_attr(const Object& obj, const std::string& name, std::span<const int> values) {
  write_array_attr(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, values);
}
std::vector<int> read_ints_attr(const Object& obj, const std::string& name) {
  return read_array_attr<int>(obj, name, H5T_NATIVE_INT);
}
void write_int64s_attr(const Object& obj, const std::string& name,
                       std::span<const std::int64_t> values) {
  write_array_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, values);
}
std::vector<std::int64_t> read_int64s_attr(const Object& obj, const std::string& name) {
  return read_array_attr<std::int64_t>(obj, name, H5T_NATIVE_INT64);
}
void write_doubles_attr(const Object& obj, const std::string& name,
                        std::span<const double> values) {
  write_array_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values);
}
std::vector<double> read_doubles_attr(const Object& obj, const std::string& name) {
  return read_array_attr<double>(obj, name, H5T_NATIVE_DOUBLE);
}

// ---- N-d numeric datasets ------------------------------------------------------------------------

std::vector<hsize_t> chunk_shape(std::span<const hsize_t> dims, std::size_t element_size) {
  if (dims.empty() || product(dims) <= kCompressAbove) return {};
  constexpr hsize_t kTargetBytes = hsize_t{1} << 20;
  std::vector<hsize_t> chunk(dims.begin(), dims.end());
  for (auto& c : chunk) {
    while (c > 1 && product(chunk) * element_size > kTargetBytes) c = (c + 1) / 2;
  }
  return chunk;
}

Dataset write_array(const Object& loc, const std::string& name, std::span<const std::int64_t> data,
                    std::span<const hsize_t> dims) {
  return write_numeric(loc, name, data, dims, H5T_STD_I64LE, H5T_NATIVE_INT64);
}

Dataset write_array(const Object& loc, const std::string& name, std::span<const double> data,
                    std::span<const hsize_t> dims) {
  return write_numeric(loc, name, data, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
}

Dataset open_dataset(const Object& loc, const std::string& name) {
  const std::string where = loc.child(name);
  if (!link_exists(loc, name)) throw IoError(where + ": missing");
  return Dataset(check(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", where), where);
}

std::vector<hsize_t> dataset_shape(const Dataset& dataset) {
  const std::string& where = dataset.where();
  Dataspace space(check(H5Dget_space(dataset.id()), "H5Dget_space", where), where);
  const int rank =
      check(H5Sget_simple_extent_ndims(space.id()), "H5Sget_simple_extent_ndims", where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) {
    check(H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr), "H5Sget_simple_extent_dims",
          where);
  }
  return dims;
}

std::vector<std::int64_t> read_int64_array(const Dataset& dataset) {
  return read_numeric<std::int64_t>(dataset, H5T_NATIVE_INT64);
}

std::vector<double> read_double_array(const Dataset& dataset) {
  return read_numeric<double>(dataset, H5T_NATIVE_DOUBLE);
}

// ---- compound tables -----------------------------------------------------------------------------

std::size_t CompoundLayout::add(std::string name, FieldType type) {
  const std::size_t offset = size_;
  fields_.push_back(Field{std::move(name), type, offset});
  size_ += field_size(type);
  return offset;
}

bool CompoundLayout::has_strings() const noexcept {
  return std::any_of(fields_.begin(), fields_.end(),
                     [](const Field& f) { return f.type == FieldType::kString; });
}

Datatype CompoundLayout::memory_type(const std::string& where) const {
  Datatype type(check(H5Tcreate(H5T_COMPOUND, size_), "H5Tcreate", where), where);
  for (const auto& f : fields_) {
    if (f.type == FieldType::kString) {
      Datatype s = vlen_string_type(where);
      check(H5Tinsert(type.id(), f.name.c_str(), f.offset, s.id()), "H5Tinsert", where);
    } else {
      check(H5Tinsert(type.id(), f.name.c_str(), f.offset, native(f.type)), "H5Tinsert", where);
    }
  }
  return type;
}

Datatype CompoundLayout::file_type(const std::string& where) const {
  Datatype type(check(H5Tcreate(H5T_COMPOUND, size_), "H5Tcreate", where), where);
  for (const auto& f : fields_) {
    if (f.type == FieldType::kString) {
      Datatype s = vlen_string_type(where);
      check(H5Tinsert(type.id(), f.name.c_str(), f.offset, s.id()), "H5Tinsert", where);
    } else {
      check(H5Tinsert(type.id(), f.name.c_str(), f.offset, little_endian(f.type)), "H5Tinsert",
            where);
    }
  }
  return type;
}

Dataset create_table(const Object& loc, const std::string& name, const CompoundLayout& layout,
                     hsize_t rows, hsize_t chunk_rows, bool compress) {
  const std::string where = loc.child(name);
  const std::array<hsize_t, 1> dims{rows};
  const std::array<hsize_t, 1> maxdims{H5S_UNLIMITED};
  Dataspace space = simple_space(dims, where, chunk_rows > 0 ? maxdims.data() : nullptr);
  PropList dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", where), where);
  if (chunk_rows > 0) {
    const std::array<hsize_t, 1> chunk{chunk_rows};
    check(H5Pset_chunk(dcpl.id(), 1, chunk.data()), "H5Pset_chunk", where);
    if (compress) {
      check(H5Pset_shuffle(dcpl.id()), "H5Pset_shuffle", where);
      check(H5Pset_deflate(dcpl.id(), kDeflateLevel), "H5Pset_deflate", where);
    }
  }
  Datatype type = layout.file_type(where);
  return Dataset(check(H5Dcreate2(loc.id(), name.c_str(), type.id(), space.id(), H5P_DEFAULT,
                                  dcpl.id(), H5P_DEFAULT),
                       "H5Dcreate2", where),
                 where);
}

void write_rows(const Dataset& table, const CompoundLayout& layout, hsize_t first, hsize_t count,
                const void* data) {
  if (count == 0) return;
  auto [file_space, mem_space] = row_selection(table, first, count);
  Datatype type = layout.memory_type(table.where());
  check(H5Dwrite(table.id(), type.id(), mem_space.id(), file_space.id(), H5P_DEFAULT, data),
        "H5Dwrite", table.where());
}

Dataset write_table(const Object& loc, const std::string& name, const CompoundLayout& layout,
                    hsize_t rows, const void* data) {
  hsize_t chunk_rows = 0;
  if (rows * layout.num_fields() > kCompressAbove) {
    chunk_rows = std::clamp<hsize_t>(
        (hsize_t{1} << 20) / std::max<std::size_t>(layout.row_size(), 1), 1, rows);
  }
  Dataset table = create_table(loc, name, layout, rows, chunk_rows, chunk_rows > 0);
  write_rows(table, layout, 0, rows, data);
  return table;
}

hsize_t num_rows(const Dataset& table) {
  const std::vector<hsize_t> dims = dataset_shape(table);
  if (dims.size() != 1) {
    throw IoError(table.where() + ": expected a 1-d table, got shape " + shape_string(dims));
  }
  return dims[0];
}

void read_rows(const Dataset& table, const CompoundLayout& layout, hsize_t first, hsize_t count,
               void* data) {
  if (count == 0) return;
  auto [file_space, mem_space] = row_selection(table, first, count);
  Datatype type = layout.memory_type(table.where());
  check(H5Dread(table.id(), type.id(), mem_space.id(), file_space.id(), H5P_DEFAULT, data),
        "H5Dread", table.where());
}

void reclaim_strings(const Dataset& table, const CompoundLayout& layout, hsize_t count,
                     void* data) {
  if (count == 0 || !layout.has_strings()) return;
  const std::array<hsize_t, 1> dims{count};
  Dataspace space = simple_space(dims, table.where());
  Datatype type = layout.memory_type(table.where());
  check(H5Dvlen_reclaim(type.id(), space.id(), H5P_DEFAULT, data), "H5Dvlen_reclaim",
        table.where());
}

TableRows::TableRows(const Dataset& table, CompoundLayout layout)
    : where_(table.where()), layout_(std::move(layout)) {
  const hsize_t rows = num_rows(table);
  data_.resize(static_cast<std::size_t>(rows) * layout_.row_size());
  read_rows(table, layout_, 0, rows, data_.data());
  count_ = rows;  // set only once HDF5 has filled the rows: the destructor frees their strings
}

TableRows::~TableRows() {
  if (count_ == 0 || !layout_.has_strings()) return;
  try {
    const std::array<hsize_t, 1> dims{count_};
    Dataspace space = simple_space(dims, where_);
    Datatype type = layout_.memory_type(where_);
    static_cast<void>(H5Dvlen_reclaim(type.id(), space.id(), H5P_DEFAULT, data_.data()));
  } catch (...) {
    // Nothing to do in a destructor: at worst the strings leak.
  }
}

const std::byte* TableRows::at(std::size_t row, std::size_t field) const {
  if (row >= size()) {
    throw IoError(where_ + ": row " + std::to_string(row) + " of " + std::to_string(size()));
  }
  return data_.data() + row * layout_.row_size() + layout_.offset(field);
}

std::string TableRows::string(std::size_t row, std::size_t field) const {
  const char* s = get<const char*>(row, field);
  return s == nullptr ? std::string() : std::string(s);
}

}  // namespace lcsim::hdf5
