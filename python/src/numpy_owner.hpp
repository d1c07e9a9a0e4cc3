// Private: hands a std::vector to numpy without copying (the array owns the vector).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <utility>
#include <vector>

namespace lcsim::python {

/// A C-contiguous numpy array of `shape` viewing `data`, which it takes over.
template <class T>
pybind11::array_t<T> to_numpy(std::vector<T>&& data, std::vector<pybind11::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(data));
  const pybind11::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return pybind11::array_t<T>(std::move(shape), owned->data(), owner);
}

}  // namespace lcsim::python
