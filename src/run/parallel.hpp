// Private to lcsim_run: replications on a pool of threads, watched from the calling thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace lcsim::detail {

/// What a task gets to pass on to the engine: a stop flag to poll and a customer counter to bump.
struct TaskControl {
  const std::atomic<bool>* stop = nullptr;
  std::atomic<std::int64_t>* progress = nullptr;
};

/// Runs task(i) for i in [0, count) on up to `threads` threads (0: all cores). The calling thread
/// polls `cancel` and calls `on_progress(customers, tasks done)` about ten times a second. The first
/// exception of a task (or of on_progress) stops the others and is rethrown once all have joined.
/// @throws Cancelled when `cancel` became true before every task finished
void parallel_for(int count, int threads, const std::atomic<bool>* cancel,
                  const std::function<void(std::int64_t, int)>& on_progress,
                  const std::function<void(int, const TaskControl&)>& task);

}  // namespace lcsim::detail
