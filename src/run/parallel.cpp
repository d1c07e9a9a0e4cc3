#include "parallel.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "lcsim/core/error.hpp"

namespace lcsim::detail {

void parallel_for(int count, int threads, const std::atomic<bool>* cancel,
                  const std::function<void(std::int64_t, int)>& on_progress,
                  const std::function<void(int, const TaskControl&)>& task) {
  if (count <= 0) return;
  if (threads <= 0) threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  threads = std::min(threads, count);

  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> progress{0};
  std::exception_ptr failure;
  std::mutex mutex;  // guards failure; with `wake` lets the watcher sleep until something happens
  std::condition_variable wake;
  const TaskControl control{&stop, &progress};

  auto worker = [&] {
    for (int i = next++; i < count && !stop.load(); i = next++) {
      try {
        task(i, control);
        ++done;
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
      wake.notify_all();
    }
  };

  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  // The calling thread watches; whatever happens here, the workers are stopped and joined first.
  try {
    while (done.load() < count && !stop.load()) {
      if (cancel != nullptr && cancel->load()) stop = true;
      if (on_progress) on_progress(progress.load(), done.load());
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait_for(lock, std::chrono::milliseconds(100),
                    [&] { return done.load() >= count || stop.load(); });
    }
  } catch (...) {
    stop = true;
    for (auto& t : pool) t.join();
    throw;
  }
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  if (done.load() < count) throw Cancelled();
  if (on_progress) on_progress(progress.load(), done.load());
}

}  // namespace lcsim::detail
